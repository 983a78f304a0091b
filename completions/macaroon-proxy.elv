
use builtin;
use str;

set edit:completion:arg-completer[macaroon-proxy] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'macaroon-proxy'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'macaroon-proxy'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand key 'Show this home''s proxy key, as wrap --proxy-key takes it.'
            cand keygen 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.'
            cand run 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.'
            cand check-config 'Check a `run --config` file: exit 0 and a summary of what it sets, or 2 naming the bad key and its line.'
            cand ca 'Print the local CA''s path and the environment lines clients need to use the proxy.'
            cand revoke 'Revoke a token and every token narrowed from it (its branch), or its whole family.'
            cand issuers 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).'
            cand approvals 'Approve or deny requests a running proxy holds for a person (docs/admin-api.md).'
            cand operator 'Operator tokens: the macaroons that open the admin API (docs/admin-api.md).'
            cand completions 'Print shell completions.'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;key'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Print the public key that tokens for this proxy are sealed to (stdout), with its key id and how a teammate uses it (stderr)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;key;show'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;key;help'= {
            cand show 'Print the public key that tokens for this proxy are sealed to (stdout), with its key id and how a teammate uses it (stderr)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;key;help;show'= {
        }
        &'macaroon-proxy;key;help;help'= {
        }
        &'macaroon-proxy;keygen'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --force 'Replace existing key files (tokens sealed to the old key stop working)'
            cand --if-missing 'Keep the home''s proxy key if it has one (print its public key and succeed): for a container''s or a service''s first start'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;run'= {
            cand --config 'Read these settings from a TOML file whose keys are the long flag names (listen = "127.0.0.1:8080", allow-host = ["api.stripe.com"]); flags given here win. SIGHUP re-reads it (see docs/deploy.md); check one with `macaroon-proxy check-config`'
            cand --listen 'Address to listen on (an IP or a name such as localhost, with a port)'
            cand --audit-log 'Where audit lines go: a file (appended, 0600) or ''-'' for stdout'
            cand --audit-format 'How audit lines are written: json (the proxy''s own line) or ocsf (OCSF 1.3 events, HTTP Activity for requests). See docs/audit.md'
            cand --otlp 'Also export every audit event to an OpenTelemetry collector as an OTLP log record: the collector''s OTLP/HTTP base URL (http://HOST:4318, or https://; records go to URL/v1/logs). A collector that is down never slows a request: records are dropped and counted'
            cand --admin 'Address for /healthz, /metrics and the admin API (off unless given). Any address but loopback needs TLS: --admin-name or --admin-cert/--admin-key'
            cand --admin-cert 'Serve the admin listener over TLS with this certificate chain (PEM)'
            cand --admin-key 'The private key (PEM) of --admin-cert'
            cand --admin-name 'Serve the admin listener over TLS with a certificate for NAME from this proxy''s CA (clients trust ca.pem)'
            cand --upstream-ca 'Extra trusted root certificates for upstreams, PEM (repeatable)'
            cand --resolve 'Send every connection for HOST to IP:PORT, still over TLS (repeatable, like curl''s)'
            cand --passthrough 'Hosts that requests without a token may reach untouched (comma-separated, repeatable)'
            cand --upstream-timeout 'How long an upstream may take to send response headers (then 504)'
            cand --max-body 'Largest request body, in bytes, read for a token with body caveats (form, json, body size, mcp, graphql): over it, 413 and nothing is sent. Other requests stream, unbounded'
            cand --body-timeout 'How long a body the proxy reads whole (to check it) may take to arrive; a client that stops sending gets 408 and nothing is sent upstream'
            cand --approval-wait 'How long a request that needs a person''s approval is held while they decide; then 403 approval_pending (the approval stays open: a retry once approved goes through). Under boto3''s 60 s read timeout and Stripe''s 80 s by default'
            cand --approval-ttl 'How long an undecided approval stays open'
            cand --approval-webhook 'POST a JSON notice of each new approval to this URL (repeatable): Slack and Mattermost incoming webhooks read its `text`. Signed with --approval-webhook-secret-file; retried, never blocking a request'
            cand --approval-webhook-secret-file 'The shared secret the webhook notices are signed with (first line of FILE, which must be 0600): `Macaroon-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, "t.body"))`'
            cand --issuer 'Trust this issuer''s public key (base64; repeatable) besides $MACAROON_HOME/issuers and the home''s own issuer'
            cand --allow-host 'Only open tokens whose sealed hosts match: a host or *.SUFFIX (repeatable, comma-separated). Tokens for other hosts get 403 host_not_allowed'
            cand --state 'Keep usage and rate counts and revocations in Redis or Valkey, shared by every replica given the same URL: redis://HOST:PORT/DB (default: in this process)'
            cand --state-password-file 'The --state store''s password, read from the first line of FILE (else from $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --allow-private 'Allow upstream addresses in private and loopback ranges'
            cand --transparent 'Also take connections that iptables/nftables REDIRECT to --listen (Linux): TLS is intercepted by its SNI, plain HTTP uses its Host. See docs/unmodified-scripts.md'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;check-config'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;ca'= {
            cand --proxy-url 'The proxy URL to put in HTTPS_PROXY'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;revoke'= {
            cand --state 'Also write the revocation to this shared store (redis://HOST:PORT/DB)'
            cand --state-password-file 'The store''s password, read from the first line of FILE (else from $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --family 'Revoke every token from the same root, not only this token''s branch'
            cand --undo 'Lift the revocation instead (the branch''s, or with --family the family''s)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;issuers'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand add 'Trust an issuer (its public key, from `macaroon issuer show`)'
            cand rm 'Stop trusting an issuer: every token it wrapped is refused'
            cand list 'List the trusted issuers (the file''s, and this home''s own)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;issuers;add'= {
            cand --name 'Whose key it is (a teammate, a machine): the name every audit line of the tokens it wraps carries as "issuer". --note is an alias'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;issuers;rm'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;issuers;list'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;issuers;help'= {
            cand add 'Trust an issuer (its public key, from `macaroon issuer show`)'
            cand rm 'Stop trusting an issuer: every token it wrapped is refused'
            cand list 'List the trusted issuers (the file''s, and this home''s own)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;issuers;help;add'= {
        }
        &'macaroon-proxy;issuers;help;rm'= {
        }
        &'macaroon-proxy;issuers;help;list'= {
        }
        &'macaroon-proxy;issuers;help;help'= {
        }
        &'macaroon-proxy;approvals'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'The approvals the proxy holds, newest first (pending, then decided)'
            cand show 'One approval: the whole request summary, body included'
            cand approve 'Approve: the held request goes upstream (and, for a window, the requests like it until it ends)'
            cand deny 'Deny: the held request gets 403 approval_denied, with the reason'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;approvals;list'= {
            cand --admin-url 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)'
            cand --operator-token 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --json 'Print the JSON array (the shape of GET /api/approvals)'
            cand --watch 'Keep watching: print each new or changed approval as it happens (Ctrl-C ends)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;approvals;show'= {
            cand --admin-url 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)'
            cand --operator-token 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --json 'Print the JSON object'
            cand --discharge 'Print the discharge macaroon an approval minted (standard V2): the approval itself, verifiable with the caveat key. Needs the approve role'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;approvals;approve'= {
            cand --admin-url 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)'
            cand --operator-token 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file'
            cand --for 'A window instead of the scope the token asks for (10m, 1h; at most 24h)'
            cand --method 'In a window, only this method (default: the request''s)'
            cand --path 'In a window, only paths under this one (default: the request''s path)'
            cand --note 'A note kept with the decision'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;approvals;deny'= {
            cand --admin-url 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)'
            cand --operator-token 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file'
            cand --reason 'Why (the agent sees it)'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;approvals;help'= {
            cand list 'The approvals the proxy holds, newest first (pending, then decided)'
            cand show 'One approval: the whole request summary, body included'
            cand approve 'Approve: the held request goes upstream (and, for a window, the requests like it until it ends)'
            cand deny 'Deny: the held request gets 403 approval_denied, with the reason'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;approvals;help;list'= {
        }
        &'macaroon-proxy;approvals;help;show'= {
        }
        &'macaroon-proxy;approvals;help;approve'= {
        }
        &'macaroon-proxy;approvals;help;deny'= {
        }
        &'macaroon-proxy;approvals;help;help'= {
        }
        &'macaroon-proxy;operator'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand mint 'Mint an operator token from this home''s operator.key (created, 0600, if absent).'
            cand whoami 'Ask a running proxy who the operator token is for (GET /api/whoami)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;operator;mint'= {
            cand --name 'Who holds it ([a-z0-9._-], 1 to 64): named in every audit line of what they do'
            cand --role 'A role (repeatable): read, approve, revoke or admin. Default: read'
            cand --expires 'How long it lasts (12h, 30m, 7d; at most 366d). Default 12h; operator tokens always expire'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;operator;whoami'= {
            cand --admin-url 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)'
            cand --operator-token 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file'
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --json 'Print the JSON answer'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;operator;help'= {
            cand mint 'Mint an operator token from this home''s operator.key (created, 0600, if absent).'
            cand whoami 'Ask a running proxy who the operator token is for (GET /api/whoami)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;operator;help;mint'= {
        }
        &'macaroon-proxy;operator;help;whoami'= {
        }
        &'macaroon-proxy;operator;help;help'= {
        }
        &'macaroon-proxy;completions'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;help'= {
            cand key 'Show this home''s proxy key, as wrap --proxy-key takes it.'
            cand keygen 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.'
            cand run 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.'
            cand check-config 'Check a `run --config` file: exit 0 and a summary of what it sets, or 2 naming the bad key and its line.'
            cand ca 'Print the local CA''s path and the environment lines clients need to use the proxy.'
            cand revoke 'Revoke a token and every token narrowed from it (its branch), or its whole family.'
            cand issuers 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).'
            cand approvals 'Approve or deny requests a running proxy holds for a person (docs/admin-api.md).'
            cand operator 'Operator tokens: the macaroons that open the admin API (docs/admin-api.md).'
            cand completions 'Print shell completions.'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;help;key'= {
            cand show 'Print the public key that tokens for this proxy are sealed to (stdout), with its key id and how a teammate uses it (stderr)'
        }
        &'macaroon-proxy;help;key;show'= {
        }
        &'macaroon-proxy;help;keygen'= {
        }
        &'macaroon-proxy;help;run'= {
        }
        &'macaroon-proxy;help;check-config'= {
        }
        &'macaroon-proxy;help;ca'= {
        }
        &'macaroon-proxy;help;revoke'= {
        }
        &'macaroon-proxy;help;issuers'= {
            cand add 'Trust an issuer (its public key, from `macaroon issuer show`)'
            cand rm 'Stop trusting an issuer: every token it wrapped is refused'
            cand list 'List the trusted issuers (the file''s, and this home''s own)'
        }
        &'macaroon-proxy;help;issuers;add'= {
        }
        &'macaroon-proxy;help;issuers;rm'= {
        }
        &'macaroon-proxy;help;issuers;list'= {
        }
        &'macaroon-proxy;help;approvals'= {
            cand list 'The approvals the proxy holds, newest first (pending, then decided)'
            cand show 'One approval: the whole request summary, body included'
            cand approve 'Approve: the held request goes upstream (and, for a window, the requests like it until it ends)'
            cand deny 'Deny: the held request gets 403 approval_denied, with the reason'
        }
        &'macaroon-proxy;help;approvals;list'= {
        }
        &'macaroon-proxy;help;approvals;show'= {
        }
        &'macaroon-proxy;help;approvals;approve'= {
        }
        &'macaroon-proxy;help;approvals;deny'= {
        }
        &'macaroon-proxy;help;operator'= {
            cand mint 'Mint an operator token from this home''s operator.key (created, 0600, if absent).'
            cand whoami 'Ask a running proxy who the operator token is for (GET /api/whoami)'
        }
        &'macaroon-proxy;help;operator;mint'= {
        }
        &'macaroon-proxy;help;operator;whoami'= {
        }
        &'macaroon-proxy;help;completions'= {
        }
        &'macaroon-proxy;help;help'= {
        }
    ]
    $completions[$command]
}
