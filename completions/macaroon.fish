complete --keep-order --exclusive --command macaroon --arguments "(COMPLETE=fish macaroon -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
