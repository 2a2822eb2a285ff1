#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-csv: see bench/csv/README.md and the docstring of csv_bench.py.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export TESSERA=${TESSERA:-$root/tessera}
[ -x "$TESSERA" ] || { echo "bench-csv: no tessera binary at $TESSERA (run make first)" >&2; exit 1; }
/usr/bin/python3 -c "import pandas, dask.dataframe" 2>/dev/null ||
	echo "bench-csv: pandas/dask missing (apt-get install python3-pandas python3-dask); set NO_PANDAS=1 NO_DASK=1" >&2
command -v mlr >/dev/null || echo "bench-csv: miller missing (apt-get install miller); Miller is skipped" >&2
exec /usr/bin/python3 "$here/csv_bench.py"
