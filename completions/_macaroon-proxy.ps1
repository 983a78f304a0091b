
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
            [CompletionResult]::new('keygen', 'keygen', [CompletionResultType]::ParameterValue, 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.')
            [CompletionResult]::new('ca', 'ca', [CompletionResultType]::ParameterValue, 'Print the local CA''s path and the environment lines clients need to use the proxy.')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token and every token narrowed from the same root (its family).')
            [CompletionResult]::new('issuers', 'issuers', [CompletionResultType]::ParameterValue, 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions.')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;keygen' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace existing key files (tokens sealed to the old key stop working)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;run' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on (an IP or a name such as localhost, with a port)')
            [CompletionResult]::new('--audit-log', '--audit-log', [CompletionResultType]::ParameterName, 'Where audit lines go: a file (appended, 0600) or ''-'' for stdout')
            [CompletionResult]::new('--admin', '--admin', [CompletionResultType]::ParameterName, 'Address for /healthz and /metrics (off unless given)')
            [CompletionResult]::new('--upstream-ca', '--upstream-ca', [CompletionResultType]::ParameterName, 'Extra trusted root certificates for upstreams, PEM (repeatable)')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Send every connection for HOST to IP:PORT, still over TLS (repeatable, like curl''s)')
            [CompletionResult]::new('--passthrough', '--passthrough', [CompletionResultType]::ParameterName, 'Hosts that requests without a token may reach untouched (comma-separated, repeatable)')
            [CompletionResult]::new('--upstream-timeout', '--upstream-timeout', [CompletionResultType]::ParameterName, 'How long an upstream may take to send response headers (then 504)')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'Largest request body, in bytes, read for a token with body caveats (form, json, body size, mcp, graphql): over it, 413 and nothing is sent. Other requests stream, unbounded')
            [CompletionResult]::new('--body-timeout', '--body-timeout', [CompletionResultType]::ParameterName, 'How long a body the proxy reads whole (to check it) may take to arrive; a client that stops sending gets 408 and nothing is sent upstream')
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
            [CompletionResult]::new('--note', '--note', [CompletionResultType]::ParameterName, 'A note kept beside it (whose key it is)')
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
        'macaroon-proxy;completions' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'macaroon-proxy;help' {
            [CompletionResult]::new('keygen', 'keygen', [CompletionResultType]::ParameterValue, 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the proxy: verify macaroons, inject keys, forward to sealed hosts.')
            [CompletionResult]::new('ca', 'ca', [CompletionResultType]::ParameterValue, 'Print the local CA''s path and the environment lines clients need to use the proxy.')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token and every token narrowed from the same root (its family).')
            [CompletionResult]::new('issuers', 'issuers', [CompletionResultType]::ParameterValue, 'Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions.')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'macaroon-proxy;help;keygen' {
            break
        }
        'macaroon-proxy;help;run' {
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
