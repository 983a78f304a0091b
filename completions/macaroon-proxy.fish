# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_macaroon_proxy_global_optspecs
    string join \n home= h/help V/version
end

function __fish_macaroon_proxy_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_macaroon_proxy_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_macaroon_proxy_using_subcommand
    set -l cmd (__fish_macaroon_proxy_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "key" -d 'Show this home\'s proxy key, as wrap --proxy-key takes it.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "keygen" -d 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "run" -d 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "check-config" -d 'Check a `run --config` file: exit 0 and a summary of what it sets, or 2 naming the bad key and its line.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "ca" -d 'Print the local CA\'s path and the environment lines clients need to use the proxy.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "revoke" -d 'Revoke a token and every token narrowed from it (its branch), or its whole family.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "issuers" -d 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "approvals" -d 'Approve or deny requests a running proxy holds for a person (docs/admin-api.md).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "operator" -d 'Operator tokens: the macaroons that open the admin API (docs/admin-api.md).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "completions" -d 'Print shell completions.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and not __fish_seen_subcommand_from show help" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and not __fish_seen_subcommand_from show help" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print the public key that tokens for this proxy are sealed to (stdout), with its key id and how a teammate uses it (stderr)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and __fish_seen_subcommand_from show" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the public key that tokens for this proxy are sealed to (stdout), with its key id and how a teammate uses it (stderr)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand keygen" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand keygen" -l force -d 'Replace existing key files (tokens sealed to the old key stop working)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand keygen" -l if-missing -d 'Keep the home\'s proxy key if it has one (print its public key and succeed): for a container\'s or a service\'s first start'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand keygen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand keygen" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l config -d 'Read these settings from a TOML file whose keys are the long flag names (listen = "127.0.0.1:8080", allow-host = ["api.stripe.com"]); flags given here win. SIGHUP re-reads it (see docs/deploy.md); check one with `macaroon-proxy check-config`' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l listen -d 'Address to listen on (an IP or a name such as localhost, with a port)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l audit-log -d 'Where audit lines go: a file (appended, 0600) or \'-\' for stdout' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l audit-format -d 'How audit lines are written: json (the proxy\'s own line) or ocsf (OCSF 1.3 events, HTTP Activity for requests). See docs/audit.md' -r -f -a "json\t'The project\'s own JSON line (docs/audit.md)'
ocsf\t'Each event as an OCSF 1.3 event: HTTP Activity (4002) for requests, API Activity (6003) for approvals and admin actions'"
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l otlp -d 'Also export every audit event to an OpenTelemetry collector as an OTLP log record: the collector\'s OTLP/HTTP base URL (http://HOST:4318, or https://; records go to URL/v1/logs). A collector that is down never slows a request: records are dropped and counted' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l admin -d 'Address for /healthz, /metrics and the admin API (off unless given). Any address but loopback needs TLS: --admin-name or --admin-cert/--admin-key' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l admin-cert -d 'Serve the admin listener over TLS with this certificate chain (PEM)' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l admin-key -d 'The private key (PEM) of --admin-cert' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l admin-name -d 'Serve the admin listener over TLS with a certificate for NAME from this proxy\'s CA (clients trust ca.pem)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l upstream-ca -d 'Extra trusted root certificates for upstreams, PEM (repeatable)' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l resolve -d 'Send every connection for HOST to IP:PORT, still over TLS (repeatable, like curl\'s)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l passthrough -d 'Hosts that requests without a token may reach untouched (comma-separated, repeatable)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l upstream-timeout -d 'How long an upstream may take to send response headers (then 504)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l max-body -d 'Largest request body, in bytes, read for a token with body caveats (form, json, body size, mcp, graphql): over it, 413 and nothing is sent. Other requests stream, unbounded' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l body-timeout -d 'How long a body the proxy reads whole (to check it) may take to arrive; a client that stops sending gets 408 and nothing is sent upstream' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l approval-wait -d 'How long a request that needs a person\'s approval is held while they decide; then 403 approval_pending (the approval stays open: a retry once approved goes through). Under boto3\'s 60 s read timeout and Stripe\'s 80 s by default' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l approval-ttl -d 'How long an undecided approval stays open' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l approval-webhook -d 'POST a JSON notice of each new approval to this URL (repeatable): Slack and Mattermost incoming webhooks read its `text`. Signed with --approval-webhook-secret-file; retried, never blocking a request' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l approval-webhook-secret-file -d 'The shared secret the webhook notices are signed with (first line of FILE, which must be 0600): `Macaroon-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, "t.body"))`' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l issuer -d 'Trust this issuer\'s public key (base64; repeatable) besides $MACAROON_HOME/issuers and the home\'s own issuer' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l allow-host -d 'Only open tokens whose sealed hosts match: a host or *.SUFFIX (repeatable, comma-separated). Tokens for other hosts get 403 host_not_allowed' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l state -d 'Keep usage and rate counts and revocations in Redis or Valkey, shared by every replica given the same URL: redis://HOST:PORT/DB (default: in this process)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l state-password-file -d 'The --state store\'s password, read from the first line of FILE (else from $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l allow-private -d 'Allow upstream addresses in private and loopback ranges'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l transparent -d 'Also take connections that iptables/nftables REDIRECT to --listen (Linux): TLS is intercepted by its SNI, plain HTTP uses its Host. See docs/unmodified-scripts.md'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand check-config" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand check-config" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand check-config" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand ca" -l proxy-url -d 'The proxy URL to put in HTTPS_PROXY' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand ca" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand ca" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand ca" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -l state -d 'Also write the revocation to this shared store (redis://HOST:PORT/DB)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -l state-password-file -d 'The store\'s password, read from the first line of FILE (else from $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -l family -d 'Revoke every token from the same root, not only this token\'s branch'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -l undo -d 'Lift the revocation instead (the branch\'s, or with --family the family\'s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -f -a "add" -d 'Trust an issuer (its public key, from `macaroon issuer show`)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -f -a "rm" -d 'Stop trusting an issuer: every token it wrapped is refused'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -f -a "list" -d 'List the trusted issuers (the file\'s, and this home\'s own)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from add" -l name -d 'Whose key it is (a teammate, a machine): the name every audit line of the tokens it wraps carries as "issuer". --note is an alias' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from add" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from rm" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from list" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from help" -f -a "add" -d 'Trust an issuer (its public key, from `macaroon issuer show`)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Stop trusting an issuer: every token it wrapped is refused'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the trusted issuers (the file\'s, and this home\'s own)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and not __fish_seen_subcommand_from list show approve deny help" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and not __fish_seen_subcommand_from list show approve deny help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and not __fish_seen_subcommand_from list show approve deny help" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and not __fish_seen_subcommand_from list show approve deny help" -f -a "list" -d 'The approvals the proxy holds, newest first (pending, then decided)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and not __fish_seen_subcommand_from list show approve deny help" -f -a "show" -d 'One approval: the whole request summary, body included'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and not __fish_seen_subcommand_from list show approve deny help" -f -a "approve" -d 'Approve: the held request goes upstream (and, for a window, the requests like it until it ends)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and not __fish_seen_subcommand_from list show approve deny help" -f -a "deny" -d 'Deny: the held request gets 403 approval_denied, with the reason'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and not __fish_seen_subcommand_from list show approve deny help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from list" -l admin-url -d 'The running proxy\'s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from list" -l operator-token -d 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from list" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from list" -l json -d 'Print the JSON array (the shape of GET /api/approvals)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from list" -l watch -d 'Keep watching: print each new or changed approval as it happens (Ctrl-C ends)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from show" -l admin-url -d 'The running proxy\'s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from show" -l operator-token -d 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from show" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from show" -l json -d 'Print the JSON object'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from show" -l discharge -d 'Print the discharge macaroon an approval minted (standard V2): the approval itself, verifiable with the caveat key. Needs the approve role'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from approve" -l admin-url -d 'The running proxy\'s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from approve" -l operator-token -d 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from approve" -l for -d 'A window instead of the scope the token asks for (10m, 1h; at most 24h)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from approve" -l method -d 'In a window, only this method (default: the request\'s)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from approve" -l path -d 'In a window, only paths under this one (default: the request\'s path)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from approve" -l note -d 'A note kept with the decision' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from approve" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from approve" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from approve" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from deny" -l admin-url -d 'The running proxy\'s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from deny" -l operator-token -d 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from deny" -l reason -d 'Why (the agent sees it)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from deny" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from deny" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from deny" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from help" -f -a "list" -d 'The approvals the proxy holds, newest first (pending, then decided)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from help" -f -a "show" -d 'One approval: the whole request summary, body included'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from help" -f -a "approve" -d 'Approve: the held request goes upstream (and, for a window, the requests like it until it ends)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from help" -f -a "deny" -d 'Deny: the held request gets 403 approval_denied, with the reason'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand approvals; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and not __fish_seen_subcommand_from mint whoami help" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and not __fish_seen_subcommand_from mint whoami help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and not __fish_seen_subcommand_from mint whoami help" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and not __fish_seen_subcommand_from mint whoami help" -f -a "mint" -d 'Mint an operator token from this home\'s operator.key (created, 0600, if absent).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and not __fish_seen_subcommand_from mint whoami help" -f -a "whoami" -d 'Ask a running proxy who the operator token is for (GET /api/whoami)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and not __fish_seen_subcommand_from mint whoami help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from mint" -l name -d 'Who holds it ([a-z0-9._-], 1 to 64): named in every audit line of what they do' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from mint" -l role -d 'A role (repeatable): read, approve, revoke or admin. Default: read' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from mint" -l expires -d 'How long it lasts (12h, 30m, 7d; at most 366d). Default 12h; operator tokens always expire' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from mint" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from mint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from mint" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from whoami" -l admin-url -d 'The running proxy\'s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from whoami" -l operator-token -d 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from whoami" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from whoami" -l json -d 'Print the JSON answer'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from whoami" -s h -l help -d 'Print help'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from whoami" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from help" -f -a "mint" -d 'Mint an operator token from this home\'s operator.key (created, 0600, if absent).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from help" -f -a "whoami" -d 'Ask a running proxy who the operator token is for (GET /api/whoami)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand operator; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand completions" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand completions" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "key" -d 'Show this home\'s proxy key, as wrap --proxy-key takes it.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "keygen" -d 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "run" -d 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "check-config" -d 'Check a `run --config` file: exit 0 and a summary of what it sets, or 2 naming the bad key and its line.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "ca" -d 'Print the local CA\'s path and the environment lines clients need to use the proxy.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "revoke" -d 'Revoke a token and every token narrowed from it (its branch), or its whole family.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "issuers" -d 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "approvals" -d 'Approve or deny requests a running proxy holds for a person (docs/admin-api.md).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "operator" -d 'Operator tokens: the macaroons that open the admin API (docs/admin-api.md).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "completions" -d 'Print shell completions.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from key keygen run check-config ca revoke issuers approvals operator completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "show" -d 'Print the public key that tokens for this proxy are sealed to (stdout), with its key id and how a teammate uses it (stderr)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from issuers" -f -a "add" -d 'Trust an issuer (its public key, from `macaroon issuer show`)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from issuers" -f -a "rm" -d 'Stop trusting an issuer: every token it wrapped is refused'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from issuers" -f -a "list" -d 'List the trusted issuers (the file\'s, and this home\'s own)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from approvals" -f -a "list" -d 'The approvals the proxy holds, newest first (pending, then decided)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from approvals" -f -a "show" -d 'One approval: the whole request summary, body included'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from approvals" -f -a "approve" -d 'Approve: the held request goes upstream (and, for a window, the requests like it until it ends)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from approvals" -f -a "deny" -d 'Deny: the held request gets 403 approval_denied, with the reason'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from operator" -f -a "mint" -d 'Mint an operator token from this home\'s operator.key (created, 0600, if absent).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from operator" -f -a "whoami" -d 'Ask a running proxy who the operator token is for (GET /api/whoami)'
