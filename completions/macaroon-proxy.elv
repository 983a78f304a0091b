
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
            cand keygen 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key'
            cand completions 'Print shell completions'
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
        &'macaroon-proxy;completions'= {
            cand --home 'The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'macaroon-proxy;help'= {
            cand keygen 'Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'macaroon-proxy;help;keygen'= {
        }
        &'macaroon-proxy;help;completions'= {
        }
        &'macaroon-proxy;help;help'= {
        }
    ]
    $completions[$command]
}
