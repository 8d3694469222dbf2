"""The `safetrain` command line: parse the arguments, call a library function, render the
result."""
