#!/bin/sh
# Fills the ${NAME} placeholders of config templates from the environment, as the local
# stack's runner does (infra/runner/render.ts), then runs the program. For Prometheus,
# Alertmanager and NATS, whose configs cannot read the environment themselves, so that their
# containers run the very files the local stack runs. An unset name is an error rather than an
# empty string; digit placeholders such as Prometheus' ${1} are left alone. A TEMPLATE that is
# a directory renders each of its *.yml files into the OUTPUT directory (Prometheus' rules).
# Plain POSIX sh and awk: the images have busybox, nothing more.
#
#   render-config.sh TEMPLATE OUTPUT [TEMPLATE OUTPUT]... -- COMMAND [ARG...]
set -eu
usage() {
  echo "usage: $0 TEMPLATE OUTPUT [TEMPLATE OUTPUT]... -- COMMAND [ARG...]" >&2
  exit 2
}

render() {
  awk '
    {
      rest = $0
      done = ""
      while (match(rest, /[$][{][A-Z][A-Z0-9_]*[}]/)) {
        name = substr(rest, RSTART + 2, RLENGTH - 3)
        if (!(name in ENVIRON)) {
          printf "%s:%d: unknown placeholder ${%s}\n", FILENAME, FNR, name > "/dev/stderr"
          exit 1
        }
        done = done substr(rest, 1, RSTART - 1) ENVIRON[name]
        rest = substr(rest, RSTART + RLENGTH)
      }
      print done rest
    }
  ' "$1" >"$2"
}

[ "$#" -ge 4 ] || usage
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  [ "$#" -ge 3 ] || usage
  if [ -d "$1" ]; then
    mkdir -p "$2"
    for file in "$1"/*.yml; do
      render "$file" "$2/$(basename "$file")"
    done
  else
    render "$1" "$2"
  fi
  shift 2
done
[ "$#" -ge 2 ] || usage
shift
exec "$@"
