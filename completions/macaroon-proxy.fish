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
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "keygen" -d 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "run" -d 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "ca" -d 'Print the local CA\'s path and the environment lines clients need to use the proxy.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "revoke" -d 'Revoke a token and every token narrowed from the same root (its family).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "issuers" -d 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "completions" -d 'Print shell completions.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand keygen" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand keygen" -l force -d 'Replace existing key files (tokens sealed to the old key stop working)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand keygen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand keygen" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l listen -d 'Address to listen on (an IP or a name such as localhost, with a port)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l audit-log -d 'Where audit lines go: a file (appended, 0600) or \'-\' for stdout' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l admin -d 'Address for /healthz and /metrics (off unless given)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l upstream-ca -d 'Extra trusted root certificates for upstreams, PEM (repeatable)' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l resolve -d 'Send every connection for HOST to IP:PORT, still over TLS (repeatable, like curl\'s)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l passthrough -d 'Hosts that requests without a token may reach untouched (comma-separated, repeatable)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l upstream-timeout -d 'How long an upstream may take to send response headers (then 504)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l max-body -d 'Largest request body, in bytes, read for a token with body caveats (form, json, body size, mcp, graphql): over it, 413 and nothing is sent. Other requests stream, unbounded' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l body-timeout -d 'How long a body the proxy reads whole (to check it) may take to arrive; a client that stops sending gets 408 and nothing is sent upstream' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l issuer -d 'Trust this issuer\'s public key (base64; repeatable) besides $MACAROON_HOME/issuers and the home\'s own issuer' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l allow-host -d 'Only open tokens whose sealed hosts match: a host or *.SUFFIX (repeatable, comma-separated). Tokens for other hosts get 403 host_not_allowed' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l state -d 'Keep usage and rate counts and revocations in Redis or Valkey, shared by every replica given the same URL: redis://HOST:PORT/DB (default: in this process)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l state-password-file -d 'The --state store\'s password, read from the first line of FILE (else from $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l allow-private -d 'Allow upstream addresses in private and loopback ranges'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -l transparent -d 'Also take connections that iptables/nftables REDIRECT to --listen (Linux): TLS is intercepted by its SNI, plain HTTP uses its Host. See docs/unmodified-scripts.md'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand run" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand ca" -l proxy-url -d 'The proxy URL to put in HTTPS_PROXY' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand ca" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand ca" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand ca" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -l state -d 'Also write the revocation to this shared store (redis://HOST:PORT/DB)' -r
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -l state-password-file -d 'The store\'s password, read from the first line of FILE (else from $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand revoke" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -f -a "add" -d 'Trust an issuer (its public key, from `macaroon issuer show`)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -f -a "rm" -d 'Stop trusting an issuer: every token it wrapped is refused'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -f -a "list" -d 'List the trusted issuers (the file\'s, and this home\'s own)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and not __fish_seen_subcommand_from add rm list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand issuers; and __fish_seen_subcommand_from add" -l note -d 'A note kept beside it (whose key it is)' -r
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
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand completions" -l home -d 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon' -r -F
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand completions" -s V -l version -d 'Print version'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from keygen run ca revoke issuers completions help" -f -a "keygen" -d 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from keygen run ca revoke issuers completions help" -f -a "run" -d 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from keygen run ca revoke issuers completions help" -f -a "ca" -d 'Print the local CA\'s path and the environment lines clients need to use the proxy.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from keygen run ca revoke issuers completions help" -f -a "revoke" -d 'Revoke a token and every token narrowed from the same root (its family).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from keygen run ca revoke issuers completions help" -f -a "issuers" -d 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from keygen run ca revoke issuers completions help" -f -a "completions" -d 'Print shell completions.'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and not __fish_seen_subcommand_from keygen run ca revoke issuers completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from issuers" -f -a "add" -d 'Trust an issuer (its public key, from `macaroon issuer show`)'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from issuers" -f -a "rm" -d 'Stop trusting an issuer: every token it wrapped is refused'
complete -c macaroon-proxy -n "__fish_macaroon_proxy_using_subcommand help; and __fish_seen_subcommand_from issuers" -f -a "list" -d 'List the trusted issuers (the file\'s, and this home\'s own)'
