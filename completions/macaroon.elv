
use builtin;
use str;

set edit:completion:arg-completer[macaroon] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'macaroon'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'macaroon'= {
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand wrap 'Seal a real API key into a new root token, store it under NAME and print it'
            cand issuer 'Show this home''s issuer key: what a proxy operator trusts to open what you wrap'
            cand attenuate 'Add caveats to a token, offline, and print the narrower token'
            cand discharge 'Mint a discharge for a third-party caveat (run by the third party, e.g. an approval service), optionally narrowed with the attenuation flags'
            cand bind 'Bind discharges to a token, just before using them; prints one bound discharge per line. Bind after the last attenuation: binding is to this exact token'
            cand inspect 'Show what a token allows, in plain words (or --json)'
            cand verify 'Dry-run the proxy''s decision for a request: exit 0 if allowed, 1 if denied'
            cand exec 'Run an unmodified command with a fresh short-lived token and the proxy settings'
            cand mount 'Mount a read-only directory with one file per stored token (Linux, FUSE); each read gives a fresh short-lived token. Ctrl-C unmounts'
            cand list 'List stored tokens'
            cand rm 'Remove a stored token'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon;wrap'= {
            cand --host 'A host the key may be sent to (repeatable). The first is the default upstream when the proxy runs as a reverse proxy'
            cand --inject 'Where the proxy puts the key upstream: bearer, basic, header:NAME, query:NAME; oauth2-refresh or oauth2-client-credentials (reads {"client_id","client_secret", "refresh_token","scope"?} JSON; needs --token-url); sigv4:REGION:SERVICE (reads {"access_key_id","secret_access_key","session_token"?} JSON)'
            cand --token-url 'The OAuth2 token endpoint (https) for oauth2-refresh and oauth2-client-credentials, e.g. https://oauth2.googleapis.com/token'
            cand --expires 'Hard expiry sealed into the token (e.g. 90d); no caveat can extend it'
            cand --location 'Advisory location recorded in the token (e.g. the proxy''s URL)'
            cand --proxy-key 'The proxy public key (base64), or a file holding it. Default: $MACAROON_PROXY_KEY, else $MACAROON_HOME/proxy.pub'
            cand --issuer-key 'Sign with this issuer key file (base64, mode 0600) instead of this home''s'
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --no-store 'Print the token without storing it'
            cand --force 'Replace a stored token of the same name'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;issuer'= {
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Print the issuer public key (creating the issuer key if this home has none)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon;issuer;show'= {
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;issuer;help'= {
            cand show 'Print the issuer public key (creating the issuer key if this home has none)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon;issuer;help;show'= {
        }
        &'macaroon;issuer;help;help'= {
        }
        &'macaroon;attenuate'= {
            cand --expires 'Expire this long from now (e.g. 10m, 1h 30m, 7d)'
            cand --not-before 'Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long from now (e.g. 5m)'
            cand --path 'Only these paths or below them (repeatable: any of them; one `path prefix` caveat)'
            cand --path-glob 'Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them)'
            cand --method 'Only these methods (repeatable: any of them; one `method in` caveat)'
            cand --host 'Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are already limited to those the key was wrapped for; this narrows further'
            cand --query 'A query parameter the request must carry exactly once: ''NAME = V'' or ''NAME in V1 V2'' (repeatable: each one must hold). Parsed as `query NAME ...`'
            cand --form 'A form body field (application/x-www-form-urlencoded): ''amount <= 5000'', ''currency = usd'', ''NAME in V1 V2'', ''NAME >= N'' (repeatable: each one must hold)'
            cand --json 'A JSON body value at an RFC 6901 pointer: ''/model in gpt-4o-mini gpt-4.1-mini'', ''/max_tokens <= 1000'' (repeatable: each one must hold)'
            cand --max-body 'At most this many bytes of request body (`body size <= N`)'
            cand --caveat 'A caveat in the caveat language, e.g. ''path = /v1/balance'' (repeatable)'
            cand --third-party 'Require a discharge from this third party (its URL) for every request'
            cand --third-party-key 'The key shared with the third party (it mints discharges with the same key)'
            cand --caveat-id 'The caveat id the third party will be asked to discharge'
            cand --format 'Output format'
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --strict 'Turn the warnings (no expiry, already expired, allows nothing, unusual method) into errors: exit 2 and print no token'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;discharge'= {
            cand --key 'The key shared between the token''s holder and this third party'
            cand --location 'Advisory location of the discharge'
            cand --expires 'Expire this long from now (e.g. 10m, 1h 30m, 7d)'
            cand --not-before 'Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long from now (e.g. 5m)'
            cand --path 'Only these paths or below them (repeatable: any of them; one `path prefix` caveat)'
            cand --path-glob 'Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them)'
            cand --method 'Only these methods (repeatable: any of them; one `method in` caveat)'
            cand --host 'Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are already limited to those the key was wrapped for; this narrows further'
            cand --query 'A query parameter the request must carry exactly once: ''NAME = V'' or ''NAME in V1 V2'' (repeatable: each one must hold). Parsed as `query NAME ...`'
            cand --form 'A form body field (application/x-www-form-urlencoded): ''amount <= 5000'', ''currency = usd'', ''NAME in V1 V2'', ''NAME >= N'' (repeatable: each one must hold)'
            cand --json 'A JSON body value at an RFC 6901 pointer: ''/model in gpt-4o-mini gpt-4.1-mini'', ''/max_tokens <= 1000'' (repeatable: each one must hold)'
            cand --max-body 'At most this many bytes of request body (`body size <= N`)'
            cand --caveat 'A caveat in the caveat language, e.g. ''path = /v1/balance'' (repeatable)'
            cand --format 'Output format'
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;bind'= {
            cand --discharge 'Discharges (as minted by `macaroon discharge`), at least one'
            cand --format 'Output format'
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;inspect'= {
            cand --discharge 'Bound discharges to check against the third-party caveats (repeatable)'
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;verify'= {
            cand -X 'The request method'
            cand --method 'The request method'
            cand --url 'The request URL (https://HOST/PATH?QUERY)'
            cand -d 'The request body, as sent (like curl --data). Default: an empty body'
            cand --data 'The request body, as sent (like curl --data). Default: an empty body'
            cand --data-file 'Read the request body from this file, byte for byte'
            cand --content-type 'The body''s Content-Type. Default with --data or --data-file: application/x-www-form-urlencoded, as curl sends; otherwise none'
            cand --proxy-key-file 'The proxy private key. Default: $MACAROON_HOME/proxy.key'
            cand --discharge 'Bound discharges for third-party caveats (repeatable)'
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --json 'Print the decision as JSON on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;exec'= {
            cand --token 'The token to narrow: a stored NAME or a token. Default: $MACAROON_TOKEN'
            cand --env 'Environment variable to put the token in (repeatable), e.g. STRIPE_API_KEY. MACAROON_TOKEN is always set too'
            cand --expires 'Expire this long from now (e.g. 10m, 1h 30m, 7d)'
            cand --not-before 'Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long from now (e.g. 5m)'
            cand --path 'Only these paths or below them (repeatable: any of them; one `path prefix` caveat)'
            cand --path-glob 'Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them)'
            cand --method 'Only these methods (repeatable: any of them; one `method in` caveat)'
            cand --host 'Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are already limited to those the key was wrapped for; this narrows further'
            cand --query 'A query parameter the request must carry exactly once: ''NAME = V'' or ''NAME in V1 V2'' (repeatable: each one must hold). Parsed as `query NAME ...`'
            cand --form 'A form body field (application/x-www-form-urlencoded): ''amount <= 5000'', ''currency = usd'', ''NAME in V1 V2'', ''NAME >= N'' (repeatable: each one must hold)'
            cand --json 'A JSON body value at an RFC 6901 pointer: ''/model in gpt-4o-mini gpt-4.1-mini'', ''/max_tokens <= 1000'' (repeatable: each one must hold)'
            cand --max-body 'At most this many bytes of request body (`body size <= N`)'
            cand --caveat 'A caveat in the caveat language, e.g. ''path = /v1/balance'' (repeatable)'
            cand --proxy 'The proxy URL. Default: $MACAROON_PROXY, else http://127.0.0.1:8080'
            cand --ca 'The proxy''s CA certificate. Default: $MACAROON_HOME/ca.pem'
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --aws 'For a sigv4 token: put it in AWS_SESSION_TOKEN, with dummy AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, so AWS SDKs and the aws CLI send it as X-Amz-Security-Token'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;mount'= {
            cand --config 'The policy file. Default: $MACAROON_HOME/mount.toml (optional)'
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;list'= {
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;rm'= {
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;completions'= {
            cand --home 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon;help'= {
            cand wrap 'Seal a real API key into a new root token, store it under NAME and print it'
            cand issuer 'Show this home''s issuer key: what a proxy operator trusts to open what you wrap'
            cand attenuate 'Add caveats to a token, offline, and print the narrower token'
            cand discharge 'Mint a discharge for a third-party caveat (run by the third party, e.g. an approval service), optionally narrowed with the attenuation flags'
            cand bind 'Bind discharges to a token, just before using them; prints one bound discharge per line. Bind after the last attenuation: binding is to this exact token'
            cand inspect 'Show what a token allows, in plain words (or --json)'
            cand verify 'Dry-run the proxy''s decision for a request: exit 0 if allowed, 1 if denied'
            cand exec 'Run an unmodified command with a fresh short-lived token and the proxy settings'
            cand mount 'Mount a read-only directory with one file per stored token (Linux, FUSE); each read gives a fresh short-lived token. Ctrl-C unmounts'
            cand list 'List stored tokens'
            cand rm 'Remove a stored token'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon;help;wrap'= {
        }
        &'macaroon;help;issuer'= {
            cand show 'Print the issuer public key (creating the issuer key if this home has none)'
        }
        &'macaroon;help;issuer;show'= {
        }
        &'macaroon;help;attenuate'= {
        }
        &'macaroon;help;discharge'= {
        }
        &'macaroon;help;bind'= {
        }
        &'macaroon;help;inspect'= {
        }
        &'macaroon;help;verify'= {
        }
        &'macaroon;help;exec'= {
        }
        &'macaroon;help;mount'= {
        }
        &'macaroon;help;list'= {
        }
        &'macaroon;help;rm'= {
        }
        &'macaroon;help;completions'= {
        }
        &'macaroon;help;help'= {
        }
    ]
    $completions[$command]
}
