
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'macaroon' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'macaroon'
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
        'macaroon' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('wrap', 'wrap', [CompletionResultType]::ParameterValue, 'Seal a real API key into a new root token, store it under NAME and print it')
            [CompletionResult]::new('issuer', 'issuer', [CompletionResultType]::ParameterValue, 'Show this home''s issuer key: what a proxy operator trusts to open what you wrap')
            [CompletionResult]::new('attenuate', 'attenuate', [CompletionResultType]::ParameterValue, 'Add caveats to a token, offline, and print the narrower token')
            [CompletionResult]::new('discharge', 'discharge', [CompletionResultType]::ParameterValue, 'Mint a discharge for a third-party caveat (run by the third party, e.g. an approval service), optionally narrowed with the attenuation flags')
            [CompletionResult]::new('bind', 'bind', [CompletionResultType]::ParameterValue, 'Bind discharges to a token, just before using them; prints one bound discharge per line. Bind after the last attenuation: binding is to this exact token')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show what a token allows, in plain words (or --json)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Dry-run the proxy''s decision for a request: exit 0 if allowed, 1 if denied')
            [CompletionResult]::new('exec', 'exec', [CompletionResultType]::ParameterValue, 'Run an unmodified command with a fresh short-lived token and the proxy settings')
            [CompletionResult]::new('mount', 'mount', [CompletionResultType]::ParameterValue, 'Mount a read-only directory with one file per stored token (Linux, FUSE); each read gives a fresh short-lived token. Ctrl-C unmounts')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List stored tokens')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove a stored token')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon;wrap' {
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'A host the key may be sent to (repeatable). The first is the default upstream when the proxy runs as a reverse proxy')
            [CompletionResult]::new('--inject', '--inject', [CompletionResultType]::ParameterName, 'Where the proxy puts the key upstream: bearer, basic, header:NAME, query:NAME; oauth2-refresh or oauth2-client-credentials (reads {"client_id","client_secret", "refresh_token","scope"?} JSON; needs --token-url); sigv4:REGION:SERVICE (reads {"access_key_id","secret_access_key","session_token"?} JSON)')
            [CompletionResult]::new('--token-url', '--token-url', [CompletionResultType]::ParameterName, 'The OAuth2 token endpoint (https) for oauth2-refresh and oauth2-client-credentials, e.g. https://oauth2.googleapis.com/token')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Hard expiry sealed into the token (e.g. 90d); no caveat can extend it')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'Advisory location recorded in the token (e.g. the proxy''s URL)')
            [CompletionResult]::new('--proxy-key', '--proxy-key', [CompletionResultType]::ParameterName, 'The proxy public key (base64), or a file holding it. Default: $MACAROON_PROXY_KEY, else $MACAROON_HOME/proxy.pub')
            [CompletionResult]::new('--issuer-key', '--issuer-key', [CompletionResultType]::ParameterName, 'Sign with this issuer key file (base64, mode 0600) instead of this home''s')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--no-store', '--no-store', [CompletionResultType]::ParameterName, 'Print the token without storing it')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace a stored token of the same name')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;issuer' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the issuer public key (creating the issuer key if this home has none)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon;issuer;show' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;issuer;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the issuer public key (creating the issuer key if this home has none)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon;issuer;help;show' {
            break
        }
        'macaroon;issuer;help;help' {
            break
        }
        'macaroon;attenuate' {
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expire this long from now (e.g. 10m, 1h 30m, 7d)')
            [CompletionResult]::new('--not-before', '--not-before', [CompletionResultType]::ParameterName, 'Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long from now (e.g. 5m)')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Only these paths or below them (repeatable: any of them; one `path prefix` caveat)')
            [CompletionResult]::new('--path-glob', '--path-glob', [CompletionResultType]::ParameterName, 'Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them)')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'Only these methods (repeatable: any of them; one `method in` caveat)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are already limited to those the key was wrapped for; this narrows further')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'A query parameter the request must carry exactly once: ''NAME = V'' or ''NAME in V1 V2'' (repeatable: each one must hold). Parsed as `query NAME ...`')
            [CompletionResult]::new('--form', '--form', [CompletionResultType]::ParameterName, 'A form body field (application/x-www-form-urlencoded): ''amount <= 5000'', ''currency = usd'', ''NAME in V1 V2'', ''NAME >= N'' (repeatable: each one must hold)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'A JSON body value at an RFC 6901 pointer: ''/model in gpt-4o-mini gpt-4.1-mini'', ''/max_tokens <= 1000'' (repeatable: each one must hold)')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'At most this many bytes of request body (`body size <= N`)')
            [CompletionResult]::new('--caveat', '--caveat', [CompletionResultType]::ParameterName, 'A caveat in the caveat language, e.g. ''path = /v1/balance'' (repeatable)')
            [CompletionResult]::new('--third-party', '--third-party', [CompletionResultType]::ParameterName, 'Require a discharge from this third party (its URL) for every request')
            [CompletionResult]::new('--third-party-key', '--third-party-key', [CompletionResultType]::ParameterName, 'The key shared with the third party (it mints discharges with the same key)')
            [CompletionResult]::new('--caveat-id', '--caveat-id', [CompletionResultType]::ParameterName, 'The caveat id the third party will be asked to discharge')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Turn the warnings (no expiry, already expired, allows nothing, unusual method) into errors: exit 2 and print no token')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;discharge' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The key shared between the token''s holder and this third party')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'Advisory location of the discharge')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expire this long from now (e.g. 10m, 1h 30m, 7d)')
            [CompletionResult]::new('--not-before', '--not-before', [CompletionResultType]::ParameterName, 'Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long from now (e.g. 5m)')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Only these paths or below them (repeatable: any of them; one `path prefix` caveat)')
            [CompletionResult]::new('--path-glob', '--path-glob', [CompletionResultType]::ParameterName, 'Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them)')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'Only these methods (repeatable: any of them; one `method in` caveat)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are already limited to those the key was wrapped for; this narrows further')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'A query parameter the request must carry exactly once: ''NAME = V'' or ''NAME in V1 V2'' (repeatable: each one must hold). Parsed as `query NAME ...`')
            [CompletionResult]::new('--form', '--form', [CompletionResultType]::ParameterName, 'A form body field (application/x-www-form-urlencoded): ''amount <= 5000'', ''currency = usd'', ''NAME in V1 V2'', ''NAME >= N'' (repeatable: each one must hold)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'A JSON body value at an RFC 6901 pointer: ''/model in gpt-4o-mini gpt-4.1-mini'', ''/max_tokens <= 1000'' (repeatable: each one must hold)')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'At most this many bytes of request body (`body size <= N`)')
            [CompletionResult]::new('--caveat', '--caveat', [CompletionResultType]::ParameterName, 'A caveat in the caveat language, e.g. ''path = /v1/balance'' (repeatable)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;bind' {
            [CompletionResult]::new('--discharge', '--discharge', [CompletionResultType]::ParameterName, 'Discharges (as minted by `macaroon discharge`), at least one')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;inspect' {
            [CompletionResult]::new('--discharge', '--discharge', [CompletionResultType]::ParameterName, 'Bound discharges to check against the third-party caveats (repeatable)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;verify' {
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'The request method')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'The request method')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The request URL (https://HOST/PATH?QUERY)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'The request body, as sent (like curl --data). Default: an empty body')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'The request body, as sent (like curl --data). Default: an empty body')
            [CompletionResult]::new('--data-file', '--data-file', [CompletionResultType]::ParameterName, 'Read the request body from this file, byte for byte')
            [CompletionResult]::new('--content-type', '--content-type', [CompletionResultType]::ParameterName, 'The body''s Content-Type. Default with --data or --data-file: application/x-www-form-urlencoded, as curl sends; otherwise none')
            [CompletionResult]::new('--proxy-key-file', '--proxy-key-file', [CompletionResultType]::ParameterName, 'The proxy private key. Default: $MACAROON_HOME/proxy.key')
            [CompletionResult]::new('--discharge', '--discharge', [CompletionResultType]::ParameterName, 'Bound discharges for third-party caveats (repeatable)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the decision as JSON on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;exec' {
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The token to narrow: a stored NAME or a token. Default: $MACAROON_TOKEN')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment variable to put the token in (repeatable), e.g. STRIPE_API_KEY. MACAROON_TOKEN is always set too')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expire this long from now (e.g. 10m, 1h 30m, 7d)')
            [CompletionResult]::new('--not-before', '--not-before', [CompletionResultType]::ParameterName, 'Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long from now (e.g. 5m)')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Only these paths or below them (repeatable: any of them; one `path prefix` caveat)')
            [CompletionResult]::new('--path-glob', '--path-glob', [CompletionResultType]::ParameterName, 'Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them)')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'Only these methods (repeatable: any of them; one `method in` caveat)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are already limited to those the key was wrapped for; this narrows further')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'A query parameter the request must carry exactly once: ''NAME = V'' or ''NAME in V1 V2'' (repeatable: each one must hold). Parsed as `query NAME ...`')
            [CompletionResult]::new('--form', '--form', [CompletionResultType]::ParameterName, 'A form body field (application/x-www-form-urlencoded): ''amount <= 5000'', ''currency = usd'', ''NAME in V1 V2'', ''NAME >= N'' (repeatable: each one must hold)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'A JSON body value at an RFC 6901 pointer: ''/model in gpt-4o-mini gpt-4.1-mini'', ''/max_tokens <= 1000'' (repeatable: each one must hold)')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'At most this many bytes of request body (`body size <= N`)')
            [CompletionResult]::new('--caveat', '--caveat', [CompletionResultType]::ParameterName, 'A caveat in the caveat language, e.g. ''path = /v1/balance'' (repeatable)')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'The proxy URL. Default: $MACAROON_PROXY, else http://127.0.0.1:8080')
            [CompletionResult]::new('--ca', '--ca', [CompletionResultType]::ParameterName, 'The proxy''s CA certificate. Default: $MACAROON_HOME/ca.pem')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--aws', '--aws', [CompletionResultType]::ParameterName, 'For a sigv4 token: put it in AWS_SESSION_TOKEN, with dummy AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, so AWS SDKs and the aws CLI send it as X-Amz-Security-Token')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;mount' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The policy file. Default: $MACAROON_HOME/mount.toml (optional)')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;list' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;rm' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;completions' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon;help' {
            [CompletionResult]::new('wrap', 'wrap', [CompletionResultType]::ParameterValue, 'Seal a real API key into a new root token, store it under NAME and print it')
            [CompletionResult]::new('issuer', 'issuer', [CompletionResultType]::ParameterValue, 'Show this home''s issuer key: what a proxy operator trusts to open what you wrap')
            [CompletionResult]::new('attenuate', 'attenuate', [CompletionResultType]::ParameterValue, 'Add caveats to a token, offline, and print the narrower token')
            [CompletionResult]::new('discharge', 'discharge', [CompletionResultType]::ParameterValue, 'Mint a discharge for a third-party caveat (run by the third party, e.g. an approval service), optionally narrowed with the attenuation flags')
            [CompletionResult]::new('bind', 'bind', [CompletionResultType]::ParameterValue, 'Bind discharges to a token, just before using them; prints one bound discharge per line. Bind after the last attenuation: binding is to this exact token')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show what a token allows, in plain words (or --json)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Dry-run the proxy''s decision for a request: exit 0 if allowed, 1 if denied')
            [CompletionResult]::new('exec', 'exec', [CompletionResultType]::ParameterValue, 'Run an unmodified command with a fresh short-lived token and the proxy settings')
            [CompletionResult]::new('mount', 'mount', [CompletionResultType]::ParameterValue, 'Mount a read-only directory with one file per stored token (Linux, FUSE); each read gives a fresh short-lived token. Ctrl-C unmounts')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List stored tokens')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove a stored token')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon;help;wrap' {
            break
        }
        'macaroon;help;issuer' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the issuer public key (creating the issuer key if this home has none)')
            break
        }
        'macaroon;help;issuer;show' {
            break
        }
        'macaroon;help;attenuate' {
            break
        }
        'macaroon;help;discharge' {
            break
        }
        'macaroon;help;bind' {
            break
        }
        'macaroon;help;inspect' {
            break
        }
        'macaroon;help;verify' {
            break
        }
        'macaroon;help;exec' {
            break
        }
        'macaroon;help;mount' {
            break
        }
        'macaroon;help;list' {
            break
        }
        'macaroon;help;rm' {
            break
        }
        'macaroon;help;completions' {
            break
        }
        'macaroon;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
