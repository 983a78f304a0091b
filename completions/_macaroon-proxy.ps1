
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'macaroon-proxy' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'macaroon-proxy'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'macaroon-proxy' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('key', 'key', [CompletionResultType]::ParameterValue, 'Show this home''s proxy key, as wrap --proxy-key takes it.')
            [CompletionResult]::new('keygen', 'keygen', [CompletionResultType]::ParameterValue, 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.')
            [CompletionResult]::new('check-config', 'check-config', [CompletionResultType]::ParameterValue, 'Check a `run --config` file: exit 0 and a summary of what it sets, or 2 naming the bad key and its line.')
            [CompletionResult]::new('ca', 'ca', [CompletionResultType]::ParameterValue, 'Print the local CA''s path and the environment lines clients need to use the proxy.')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token and every token narrowed from it (its branch), or its whole family.')
            [CompletionResult]::new('issuers', 'issuers', [CompletionResultType]::ParameterValue, 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).')
            [CompletionResult]::new('approvals', 'approvals', [CompletionResultType]::ParameterValue, 'Approve or deny requests a running proxy holds for a person (docs/admin-api.md).')
            [CompletionResult]::new('operator', 'operator', [CompletionResultType]::ParameterValue, 'Operator tokens: the macaroons that open the admin API (docs/admin-api.md).')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions.')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;key' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the public key that tokens for this proxy are sealed to (stdout), with its key id and how a teammate uses it (stderr)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;key;show' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;key;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the public key that tokens for this proxy are sealed to (stdout), with its key id and how a teammate uses it (stderr)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;key;help;show' {
            break
        }
        'macaroon-proxy;key;help;help' {
            break
        }
        'macaroon-proxy;keygen' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace existing key files (tokens sealed to the old key stop working)')
            [CompletionResult]::new('--if-missing', '--if-missing', [CompletionResultType]::ParameterName, 'Keep the home''s proxy key if it has one (print its public key and succeed): for a container''s or a service''s first start')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;run' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read these settings from a TOML file whose keys are the long flag names (listen = "127.0.0.1:8080", allow-host = ["api.stripe.com"]); flags given here win. SIGHUP re-reads it (see docs/deploy.md); check one with `macaroon-proxy check-config`')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on (an IP or a name such as localhost, with a port)')
            [CompletionResult]::new('--audit-log', '--audit-log', [CompletionResultType]::ParameterName, 'Where audit lines go: a file (appended, 0600) or ''-'' for stdout')
            [CompletionResult]::new('--audit-format', '--audit-format', [CompletionResultType]::ParameterName, 'How audit lines are written: json (the proxy''s own line) or ocsf (OCSF 1.3 events, HTTP Activity for requests). See docs/audit.md')
            [CompletionResult]::new('--otlp', '--otlp', [CompletionResultType]::ParameterName, 'Also export every audit event to an OpenTelemetry collector as an OTLP log record: the collector''s OTLP/HTTP base URL (http://HOST:4318, or https://; records go to URL/v1/logs). A collector that is down never slows a request: records are dropped and counted')
            [CompletionResult]::new('--admin', '--admin', [CompletionResultType]::ParameterName, 'Address for /healthz, /metrics and the admin API (off unless given). Any address but loopback needs TLS: --admin-name or --admin-cert/--admin-key')
            [CompletionResult]::new('--admin-cert', '--admin-cert', [CompletionResultType]::ParameterName, 'Serve the admin listener over TLS with this certificate chain (PEM)')
            [CompletionResult]::new('--admin-key', '--admin-key', [CompletionResultType]::ParameterName, 'The private key (PEM) of --admin-cert')
            [CompletionResult]::new('--admin-name', '--admin-name', [CompletionResultType]::ParameterName, 'Serve the admin listener over TLS with a certificate for NAME from this proxy''s CA (clients trust ca.pem)')
            [CompletionResult]::new('--upstream-ca', '--upstream-ca', [CompletionResultType]::ParameterName, 'Extra trusted root certificates for upstreams, PEM (repeatable)')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Send every connection for HOST to IP:PORT, still over TLS (repeatable, like curl''s)')
            [CompletionResult]::new('--passthrough', '--passthrough', [CompletionResultType]::ParameterName, 'Hosts that requests without a token may reach untouched (comma-separated, repeatable)')
            [CompletionResult]::new('--upstream-timeout', '--upstream-timeout', [CompletionResultType]::ParameterName, 'How long an upstream may take to send response headers (then 504)')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'Largest request body, in bytes, read for a token with body caveats (form, json, body size, mcp, graphql): over it, 413 and nothing is sent. Other requests stream, unbounded')
            [CompletionResult]::new('--body-timeout', '--body-timeout', [CompletionResultType]::ParameterName, 'How long a body the proxy reads whole (to check it) may take to arrive; a client that stops sending gets 408 and nothing is sent upstream')
            [CompletionResult]::new('--approval-wait', '--approval-wait', [CompletionResultType]::ParameterName, 'How long a request that needs a person''s approval is held while they decide; then 403 approval_pending (the approval stays open: a retry once approved goes through). Under boto3''s 60 s read timeout and Stripe''s 80 s by default')
            [CompletionResult]::new('--approval-ttl', '--approval-ttl', [CompletionResultType]::ParameterName, 'How long an undecided approval stays open')
            [CompletionResult]::new('--approval-webhook', '--approval-webhook', [CompletionResultType]::ParameterName, 'POST a JSON notice of each new approval to this URL (repeatable): Slack and Mattermost incoming webhooks read its `text`. Signed with --approval-webhook-secret-file; retried, never blocking a request')
            [CompletionResult]::new('--approval-webhook-secret-file', '--approval-webhook-secret-file', [CompletionResultType]::ParameterName, 'The shared secret the webhook notices are signed with (first line of FILE, which must be 0600): `Macaroon-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, "t.body"))`')
            [CompletionResult]::new('--issuer', '--issuer', [CompletionResultType]::ParameterName, 'Trust this issuer''s public key (base64; repeatable) besides $MACAROON_HOME/issuers and the home''s own issuer')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'Only open tokens whose sealed hosts match: a host or *.SUFFIX (repeatable, comma-separated). Tokens for other hosts get 403 host_not_allowed')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Keep usage and rate counts and revocations in Redis or Valkey, shared by every replica given the same URL: redis://HOST:PORT/DB (default: in this process)')
            [CompletionResult]::new('--state-password-file', '--state-password-file', [CompletionResultType]::ParameterName, 'The --state store''s password, read from the first line of FILE (else from $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--allow-private', '--allow-private', [CompletionResultType]::ParameterName, 'Allow upstream addresses in private and loopback ranges')
            [CompletionResult]::new('--transparent', '--transparent', [CompletionResultType]::ParameterName, 'Also take connections that iptables/nftables REDIRECT to --listen (Linux): TLS is intercepted by its SNI, plain HTTP uses its Host. See docs/unmodified-scripts.md')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;check-config' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;ca' {
            [CompletionResult]::new('--proxy-url', '--proxy-url', [CompletionResultType]::ParameterName, 'The proxy URL to put in HTTPS_PROXY')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;revoke' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Also write the revocation to this shared store (redis://HOST:PORT/DB)')
            [CompletionResult]::new('--state-password-file', '--state-password-file', [CompletionResultType]::ParameterName, 'The store''s password, read from the first line of FILE (else from $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--family', '--family', [CompletionResultType]::ParameterName, 'Revoke every token from the same root, not only this token''s branch')
            [CompletionResult]::new('--undo', '--undo', [CompletionResultType]::ParameterName, 'Lift the revocation instead (the branch''s, or with --family the family''s)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;issuers' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Trust an issuer (its public key, from `macaroon issuer show`)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Stop trusting an issuer: every token it wrapped is refused')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the trusted issuers (the file''s, and this home''s own)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;issuers;add' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Whose key it is (a teammate, a machine): the name every audit line of the tokens it wraps carries as "issuer". --note is an alias')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;issuers;rm' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;issuers;list' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;issuers;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Trust an issuer (its public key, from `macaroon issuer show`)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Stop trusting an issuer: every token it wrapped is refused')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the trusted issuers (the file''s, and this home''s own)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;issuers;help;add' {
            break
        }
        'macaroon-proxy;issuers;help;rm' {
            break
        }
        'macaroon-proxy;issuers;help;list' {
            break
        }
        'macaroon-proxy;issuers;help;help' {
            break
        }
        'macaroon-proxy;approvals' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The approvals the proxy holds, newest first (pending, then decided)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'One approval: the whole request summary, body included')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve: the held request goes upstream (and, for a window, the requests like it until it ends)')
            [CompletionResult]::new('deny', 'deny', [CompletionResultType]::ParameterValue, 'Deny: the held request gets 403 approval_denied, with the reason')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;approvals;list' {
            [CompletionResult]::new('--admin-url', '--admin-url', [CompletionResultType]::ParameterName, 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)')
            [CompletionResult]::new('--operator-token', '--operator-token', [CompletionResultType]::ParameterName, 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the JSON array (the shape of GET /api/approvals)')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Keep watching: print each new or changed approval as it happens (Ctrl-C ends)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;approvals;show' {
            [CompletionResult]::new('--admin-url', '--admin-url', [CompletionResultType]::ParameterName, 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)')
            [CompletionResult]::new('--operator-token', '--operator-token', [CompletionResultType]::ParameterName, 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the JSON object')
            [CompletionResult]::new('--discharge', '--discharge', [CompletionResultType]::ParameterName, 'Print the discharge macaroon an approval minted (standard V2): the approval itself, verifiable with the caveat key. Needs the approve role')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;approvals;approve' {
            [CompletionResult]::new('--admin-url', '--admin-url', [CompletionResultType]::ParameterName, 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)')
            [CompletionResult]::new('--operator-token', '--operator-token', [CompletionResultType]::ParameterName, 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file')
            [CompletionResult]::new('--for', '--for', [CompletionResultType]::ParameterName, 'A window instead of the scope the token asks for (10m, 1h; at most 24h)')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'In a window, only this method (default: the request''s)')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'In a window, only paths under this one (default: the request''s path)')
            [CompletionResult]::new('--note', '--note', [CompletionResultType]::ParameterName, 'A note kept with the decision')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;approvals;deny' {
            [CompletionResult]::new('--admin-url', '--admin-url', [CompletionResultType]::ParameterName, 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)')
            [CompletionResult]::new('--operator-token', '--operator-token', [CompletionResultType]::ParameterName, 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why (the agent sees it)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;approvals;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The approvals the proxy holds, newest first (pending, then decided)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'One approval: the whole request summary, body included')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve: the held request goes upstream (and, for a window, the requests like it until it ends)')
            [CompletionResult]::new('deny', 'deny', [CompletionResultType]::ParameterValue, 'Deny: the held request gets 403 approval_denied, with the reason')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;approvals;help;list' {
            break
        }
        'macaroon-proxy;approvals;help;show' {
            break
        }
        'macaroon-proxy;approvals;help;approve' {
            break
        }
        'macaroon-proxy;approvals;help;deny' {
            break
        }
        'macaroon-proxy;approvals;help;help' {
            break
        }
        'macaroon-proxy;operator' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('mint', 'mint', [CompletionResultType]::ParameterValue, 'Mint an operator token from this home''s operator.key (created, 0600, if absent).')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Ask a running proxy who the operator token is for (GET /api/whoami)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;operator;mint' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Who holds it ([a-z0-9._-], 1 to 64): named in every audit line of what they do')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'A role (repeatable): read, approve, revoke or admin. Default: read')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'How long it lasts (12h, 30m, 7d; at most 366d). Default 12h; operator tokens always expire')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;operator;whoami' {
            [CompletionResult]::new('--admin-url', '--admin-url', [CompletionResultType]::ParameterName, 'The running proxy''s admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090)')
            [CompletionResult]::new('--operator-token', '--operator-token', [CompletionResultType]::ParameterName, 'The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token). On the command line it shows in `ps`: prefer the variable or the file')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the JSON answer')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;operator;help' {
            [CompletionResult]::new('mint', 'mint', [CompletionResultType]::ParameterValue, 'Mint an operator token from this home''s operator.key (created, 0600, if absent).')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Ask a running proxy who the operator token is for (GET /api/whoami)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;operator;help;mint' {
            break
        }
        'macaroon-proxy;operator;help;whoami' {
            break
        }
        'macaroon-proxy;operator;help;help' {
            break
        }
        'macaroon-proxy;completions' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;help' {
            [CompletionResult]::new('key', 'key', [CompletionResultType]::ParameterValue, 'Show this home''s proxy key, as wrap --proxy-key takes it.')
            [CompletionResult]::new('keygen', 'keygen', [CompletionResultType]::ParameterValue, 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.')
            [CompletionResult]::new('check-config', 'check-config', [CompletionResultType]::ParameterValue, 'Check a `run --config` file: exit 0 and a summary of what it sets, or 2 naming the bad key and its line.')
            [CompletionResult]::new('ca', 'ca', [CompletionResultType]::ParameterValue, 'Print the local CA''s path and the environment lines clients need to use the proxy.')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token and every token narrowed from it (its branch), or its whole family.')
            [CompletionResult]::new('issuers', 'issuers', [CompletionResultType]::ParameterValue, 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).')
            [CompletionResult]::new('approvals', 'approvals', [CompletionResultType]::ParameterValue, 'Approve or deny requests a running proxy holds for a person (docs/admin-api.md).')
            [CompletionResult]::new('operator', 'operator', [CompletionResultType]::ParameterValue, 'Operator tokens: the macaroons that open the admin API (docs/admin-api.md).')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions.')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;help;key' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the public key that tokens for this proxy are sealed to (stdout), with its key id and how a teammate uses it (stderr)')
            break
        }
        'macaroon-proxy;help;key;show' {
            break
        }
        'macaroon-proxy;help;keygen' {
            break
        }
        'macaroon-proxy;help;run' {
            break
        }
        'macaroon-proxy;help;check-config' {
            break
        }
        'macaroon-proxy;help;ca' {
            break
        }
        'macaroon-proxy;help;revoke' {
            break
        }
        'macaroon-proxy;help;issuers' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Trust an issuer (its public key, from `macaroon issuer show`)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Stop trusting an issuer: every token it wrapped is refused')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the trusted issuers (the file''s, and this home''s own)')
            break
        }
        'macaroon-proxy;help;issuers;add' {
            break
        }
        'macaroon-proxy;help;issuers;rm' {
            break
        }
        'macaroon-proxy;help;issuers;list' {
            break
        }
        'macaroon-proxy;help;approvals' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The approvals the proxy holds, newest first (pending, then decided)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'One approval: the whole request summary, body included')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve: the held request goes upstream (and, for a window, the requests like it until it ends)')
            [CompletionResult]::new('deny', 'deny', [CompletionResultType]::ParameterValue, 'Deny: the held request gets 403 approval_denied, with the reason')
            break
        }
        'macaroon-proxy;help;approvals;list' {
            break
        }
        'macaroon-proxy;help;approvals;show' {
            break
        }
        'macaroon-proxy;help;approvals;approve' {
            break
        }
        'macaroon-proxy;help;approvals;deny' {
            break
        }
        'macaroon-proxy;help;operator' {
            [CompletionResult]::new('mint', 'mint', [CompletionResultType]::ParameterValue, 'Mint an operator token from this home''s operator.key (created, 0600, if absent).')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Ask a running proxy who the operator token is for (GET /api/whoami)')
            break
        }
        'macaroon-proxy;help;operator;mint' {
            break
        }
        'macaroon-proxy;help;operator;whoami' {
            break
        }
        'macaroon-proxy;help;completions' {
            break
        }
        'macaroon-proxy;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
