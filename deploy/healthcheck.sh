#!/bin/bash
# Container health check for perkgate, with no curl or wget in the image: bash's /dev/tcp
# sends `GET /healthz` (or the path given as $1, e.g. /readyz) to the port of PERKGATE_LISTEN
# and succeeds only on an HTTP 200 status line. Used by the Dockerfile's HEALTHCHECK and by
# docker-compose.yml. Exit 0 = healthy, 1 = not.
set -u
path=${1:-/healthz}
listen=${PERKGATE_LISTEN:-127.0.0.1:3000}
port=${listen##*:}
host=${listen%:*}
host=${host#[}
host=${host%]}
# A wildcard bind is reached on loopback.
case $host in
  '' | 0.0.0.0) host=127.0.0.1 ;;
  ::) host=::1 ;;
esac
if ! exec 3<>"/dev/tcp/$host/$port"; then
  echo "perkgate-healthcheck: cannot connect to $host:$port" >&2
  exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: perkgate-healthcheck\r\n\r\n' "$path" >&3
status=
IFS= read -r -t 5 status <&3
exec 3<&-
case $status in
  "HTTP/1."?" 200 "*) exit 0 ;;
esac
echo "perkgate-healthcheck: GET $path on $host:$port answered: ${status%$'\r'}" >&2
exit 1
