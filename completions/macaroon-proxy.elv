
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
            cand keygen 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.'
            cand run 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.'
            cand ca 'Print the local CA''s path and the environment lines clients need to use the proxy.'
            cand revoke 'Revoke a token and every token narrowed from the same root (its family).'
            cand issuers 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).'
            cand completions 'Print shell completions.'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;keygen'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand --force 'Replace existing key files (tokens sealed to the old key stop working)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;run'= {
            cand --listen 'Address to listen on (an IP or a name such as localhost, with a port)'
            cand --audit-log 'Where audit lines go: a file (appended, 0600) or ''-'' for stdout'
            cand --admin 'Address for /healthz and /metrics (off unless given)'
            cand --upstream-ca 'Extra trusted root certificates for upstreams, PEM (repeatable)'
            cand --resolve 'Send every connection for HOST to IP:PORT, still over TLS (repeatable, like curl''s)'
            cand --passthrough 'Hosts that requests without a token may reach untouched (comma-separated, repeatable)'
            cand --upstream-timeout 'How long an upstream may take to send response headers (then 504)'
            cand --max-body 'Largest request body, in bytes, read for a token with body caveats (form, json, body size, mcp, graphql): over it, 413 and nothing is sent. Other requests stream, unbounded'
            cand --body-timeout 'How long a body the proxy reads whole (to check it) may take to arrive; a client that stops sending gets 408 and nothing is sent upstream'
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
            cand --note 'A note kept beside it (whose key it is)'
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
        &'macaroon-proxy;completions'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;help'= {
            cand keygen 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.'
            cand run 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.'
            cand ca 'Print the local CA''s path and the environment lines clients need to use the proxy.'
            cand revoke 'Revoke a token and every token narrowed from the same root (its family).'
            cand issuers 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).'
            cand completions 'Print shell completions.'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;help;keygen'= {
        }
        &'macaroon-proxy;help;run'= {
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
        &'macaroon-proxy;help;completions'= {
        }
        &'macaroon-proxy;help;help'= {
        }
    ]
    $completions[$command]
}
