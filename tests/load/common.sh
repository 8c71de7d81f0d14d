# Shared by the load scripts (sourced): runs from the workspace root, needs
# wrk, and gives a scratch directory `$work`, background processes in `pids`
# (killed on exit) and `free_port`.
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "$(basename "$0"): wrk is not installed (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
