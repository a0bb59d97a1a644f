#!/bin/sh
# Fills the ${NAME} placeholders of a config template from the environment, as the local
# stack's runner does (infra/runner/render.ts), then runs the program. For Prometheus,
# Alertmanager and NATS, whose configs cannot read the environment themselves, so that their
# containers run the very files the local stack runs. An unset name is an error rather than an
# empty string; digit placeholders such as Prometheus' ${1} are left alone. Plain POSIX sh and
# awk: the images have busybox, nothing more.
#
#   render-config.sh TEMPLATE OUTPUT -- COMMAND [ARG...]
set -eu
if [ "$#" -lt 4 ] || [ "$3" != "--" ]; then
  echo "usage: $0 TEMPLATE OUTPUT -- COMMAND [ARG...]" >&2
  exit 2
fi
template=$1
output=$2
shift 3

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
' "$template" >"$output"

exec "$@"
