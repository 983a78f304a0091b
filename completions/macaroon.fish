# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_macaroon_global_optspecs
    string join \n home= h/help V/version
end

function __fish_macaroon_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_macaroon_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_macaroon_using_subcommand
    set -l cmd (__fish_macaroon_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c macaroon -n "__fish_macaroon_needs_command" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_needs_command" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "wrap" -d 'Seal a real API key into a new root token, store it under NAME and print it'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "issuer" -d 'Show this home\'s issuer key: what a proxy operator trusts to open what you wrap'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "attenuate" -d 'Add caveats to a token, offline, and print the narrower token'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "discharge" -d 'Mint a discharge for a third-party caveat (run by the third party, e.g. an approval service), optionally narrowed with the attenuation flags'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "bind" -d 'Bind discharges to a token, just before using them; prints one bound discharge per line. Bind after the last attenuation: binding is to this exact token'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "inspect" -d 'Show what a token allows, in plain words (or --json)'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "verify" -d 'Dry-run the proxy\'s decision for a request: exit 0 if allowed, 1 if denied'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "exec" -d 'Run an unmodified command with a fresh short-lived token and the proxy settings'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "mount" -d 'Mount a read-only directory with one file per stored token (Linux, FUSE); each read gives a fresh short-lived token. Ctrl-C unmounts'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "list" -d 'List stored tokens'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "rm" -d 'Remove a stored token'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c macaroon -n "__fish_macaroon_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l host -d 'A host the key may be sent to (repeatable). The first is the default upstream when the proxy runs as a reverse proxy' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l inject -d 'Where the proxy puts the key upstream: bearer, basic, header:NAME, query:NAME; oauth2-refresh or oauth2-client-credentials (reads {"client_id","client_secret", "refresh_token","scope"?} JSON; needs --token-url); sigv4:REGION:SERVICE (reads {"access_key_id","secret_access_key","session_token"?} JSON)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l token-url -d 'The OAuth2 token endpoint (https) for oauth2-refresh and oauth2-client-credentials, e.g. https://oauth2.googleapis.com/token' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l expires -d 'Hard expiry sealed into the token (e.g. 90d); no caveat can extend it' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l location -d 'Advisory location recorded in the token (e.g. the proxy\'s URL)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l proxy-key -d 'The proxy public key (base64), or a file holding it. Default: $MACAROON_PROXY_KEY, else $MACAROON_HOME/proxy.pub' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l issuer-key -d 'Sign with this issuer key file (base64, mode 0600) instead of this home\'s' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l no-store -d 'Print the token without storing it'
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -l force -d 'Replace a stored token of the same name'
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_using_subcommand wrap" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and not __fish_seen_subcommand_from show help" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and not __fish_seen_subcommand_from show help" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print the issuer public key (creating the issuer key if this home has none)'
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and __fish_seen_subcommand_from show" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the issuer public key (creating the issuer key if this home has none)'
complete -c macaroon -n "__fish_macaroon_using_subcommand issuer; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l expires -d 'Expire this long from now (e.g. 10m, 1h 30m, 7d)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l not-before -d 'Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long from now (e.g. 5m)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l path -d 'Only these paths or below them (repeatable: any of them; one `path prefix` caveat)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l path-glob -d 'Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l method -d 'Only these methods (repeatable: any of them; one `method in` caveat)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l host -d 'Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are already limited to those the key was wrapped for; this narrows further' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l query -d 'A query parameter the request must carry exactly once: \'NAME = V\' or \'NAME in V1 V2\' (repeatable: each one must hold). Parsed as `query NAME ...`' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l form -d 'A form body field (application/x-www-form-urlencoded): \'amount <= 5000\', \'currency = usd\', \'NAME in V1 V2\', \'NAME >= N\' (repeatable: each one must hold)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l json -d 'A JSON body value at an RFC 6901 pointer: \'/model in gpt-4o-mini gpt-4.1-mini\', \'/max_tokens <= 1000\' (repeatable: each one must hold)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l max-body -d 'At most this many bytes of request body (`body size <= N`)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l caveat -d 'A caveat in the caveat language, e.g. \'path = /v1/balance\' (repeatable)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l third-party -d 'Require a discharge from this third party (its URL) for every request' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l third-party-key -d 'The key shared with the third party (it mints discharges with the same key)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l caveat-id -d 'The caveat id the third party will be asked to discharge' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l format -d 'Output format' -r -f -a "v2\t'V2 binary, base64url without padding (the default everywhere)'
v1\t'V1 (for old libmacaroons-based tools)'
v2json\t'V2 JSON'"
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -l strict -d 'Turn the warnings (no expiry, already expired, allows nothing, unusual method) into errors: exit 2 and print no token'
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_using_subcommand attenuate" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l key -d 'The key shared between the token\'s holder and this third party' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l location -d 'Advisory location of the discharge' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l expires -d 'Expire this long from now (e.g. 10m, 1h 30m, 7d)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l not-before -d 'Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long from now (e.g. 5m)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l path -d 'Only these paths or below them (repeatable: any of them; one `path prefix` caveat)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l path-glob -d 'Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l method -d 'Only these methods (repeatable: any of them; one `method in` caveat)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l host -d 'Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are already limited to those the key was wrapped for; this narrows further' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l query -d 'A query parameter the request must carry exactly once: \'NAME = V\' or \'NAME in V1 V2\' (repeatable: each one must hold). Parsed as `query NAME ...`' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l form -d 'A form body field (application/x-www-form-urlencoded): \'amount <= 5000\', \'currency = usd\', \'NAME in V1 V2\', \'NAME >= N\' (repeatable: each one must hold)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l json -d 'A JSON body value at an RFC 6901 pointer: \'/model in gpt-4o-mini gpt-4.1-mini\', \'/max_tokens <= 1000\' (repeatable: each one must hold)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l max-body -d 'At most this many bytes of request body (`body size <= N`)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l caveat -d 'A caveat in the caveat language, e.g. \'path = /v1/balance\' (repeatable)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l format -d 'Output format' -r -f -a "v2\t'V2 binary, base64url without padding (the default everywhere)'
v1\t'V1 (for old libmacaroons-based tools)'
v2json\t'V2 JSON'"
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_using_subcommand discharge" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand bind" -l discharge -d 'Discharges (as minted by `macaroon discharge`), at least one' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand bind" -l format -d 'Output format' -r -f -a "v2\t'V2 binary, base64url without padding (the default everywhere)'
v1\t'V1 (for old libmacaroons-based tools)'
v2json\t'V2 JSON'"
complete -c macaroon -n "__fish_macaroon_using_subcommand bind" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand bind" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_using_subcommand bind" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand inspect" -l discharge -d 'Bound discharges to check against the third-party caveats (repeatable)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand inspect" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand inspect" -l json -d 'Print JSON instead of a table'
complete -c macaroon -n "__fish_macaroon_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_using_subcommand inspect" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -s X -l method -d 'The request method' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -l url -d 'The request URL (https://HOST/PATH?QUERY)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -s d -l data -d 'The request body, as sent (like curl --data). Default: an empty body' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -l data-file -d 'Read the request body from this file, byte for byte' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -l content-type -d 'The body\'s Content-Type. Default with --data or --data-file: application/x-www-form-urlencoded, as curl sends; otherwise none' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -l proxy-key-file -d 'The proxy private key. Default: $MACAROON_HOME/proxy.key' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -l discharge -d 'Bound discharges for third-party caveats (repeatable)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -l json -d 'Print the decision as JSON on stdout'
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_using_subcommand verify" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l token -d 'The token to narrow: a stored NAME or a token. Default: $MACAROON_TOKEN' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l env -d 'Environment variable to put the token in (repeatable), e.g. STRIPE_API_KEY. MACAROON_TOKEN is always set too' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l expires -d 'Expire this long from now (e.g. 10m, 1h 30m, 7d)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l not-before -d 'Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long from now (e.g. 5m)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l path -d 'Only these paths or below them (repeatable: any of them; one `path prefix` caveat)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l path-glob -d 'Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l method -d 'Only these methods (repeatable: any of them; one `method in` caveat)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l host -d 'Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are already limited to those the key was wrapped for; this narrows further' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l query -d 'A query parameter the request must carry exactly once: \'NAME = V\' or \'NAME in V1 V2\' (repeatable: each one must hold). Parsed as `query NAME ...`' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l form -d 'A form body field (application/x-www-form-urlencoded): \'amount <= 5000\', \'currency = usd\', \'NAME in V1 V2\', \'NAME >= N\' (repeatable: each one must hold)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l json -d 'A JSON body value at an RFC 6901 pointer: \'/model in gpt-4o-mini gpt-4.1-mini\', \'/max_tokens <= 1000\' (repeatable: each one must hold)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l max-body -d 'At most this many bytes of request body (`body size <= N`)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l caveat -d 'A caveat in the caveat language, e.g. \'path = /v1/balance\' (repeatable)' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l proxy -d 'The proxy URL. Default: $MACAROON_PROXY, else http://127.0.0.1:8080' -r
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l ca -d 'The proxy\'s CA certificate. Default: $MACAROON_HOME/ca.pem' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -l aws -d 'For a sigv4 token: put it in AWS_SESSION_TOKEN, with dummy AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, so AWS SDKs and the aws CLI send it as X-Amz-Security-Token'
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_using_subcommand exec" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand mount" -l config -d 'The policy file. Default: $MACAROON_HOME/mount.toml (optional)' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand mount" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand mount" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon -n "__fish_macaroon_using_subcommand mount" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand list" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand list" -l json -d 'Print JSON instead of a table'
complete -c macaroon -n "__fish_macaroon_using_subcommand list" -s h -l help -d 'Print help'
complete -c macaroon -n "__fish_macaroon_using_subcommand list" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand rm" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand rm" -s h -l help -d 'Print help'
complete -c macaroon -n "__fish_macaroon_using_subcommand rm" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand completions" -l home -d 'The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon -n "__fish_macaroon_using_subcommand completions" -s h -l help -d 'Print help'
complete -c macaroon -n "__fish_macaroon_using_subcommand completions" -s V -l version -d 'Print version'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "wrap" -d 'Seal a real API key into a new root token, store it under NAME and print it'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "issuer" -d 'Show this home\'s issuer key: what a proxy operator trusts to open what you wrap'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "attenuate" -d 'Add caveats to a token, offline, and print the narrower token'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "discharge" -d 'Mint a discharge for a third-party caveat (run by the third party, e.g. an approval service), optionally narrowed with the attenuation flags'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "bind" -d 'Bind discharges to a token, just before using them; prints one bound discharge per line. Bind after the last attenuation: binding is to this exact token'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "inspect" -d 'Show what a token allows, in plain words (or --json)'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "verify" -d 'Dry-run the proxy\'s decision for a request: exit 0 if allowed, 1 if denied'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "exec" -d 'Run an unmodified command with a fresh short-lived token and the proxy settings'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "mount" -d 'Mount a read-only directory with one file per stored token (Linux, FUSE); each read gives a fresh short-lived token. Ctrl-C unmounts'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "list" -d 'List stored tokens'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "rm" -d 'Remove a stored token'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "completions" -d 'Print shell completions'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and not __fish_seen_subcommand_from wrap issuer attenuate discharge bind inspect verify exec mount list rm completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon -n "__fish_macaroon_using_subcommand help; and __fish_seen_subcommand_from issuer" -f -a "show" -d 'Print the issuer public key (creating the issuer key if this home has none)'
