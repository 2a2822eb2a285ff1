#!/bin/sh
# SPDX-License-Identifier: MIT
#
# npy_numpy_check.sh: io/npy against numpy itself, both ways.
#
#   tests/unit/npy_numpy_check.sh [UNIT_TEST_BINARY]   (default: build/unit-tests)
#
# numpy writes .npy files in every dtype tessera reads, C and Fortran order,
# little- and big-endian, with a text dump of each; the unit test
# npy_numpy_fixtures (run with TESSERA_NPY_FIXTURES pointing at them) reads
# them by boxes, compares with the dumps, and writes each array back with
# tessera's writer; numpy then loads those and they must equal the originals
# and be byte-identical to what numpy.save writes for the same array.
# Skips (exit 0, with a note) when Debian's python3-numpy is not installed.
set -eu

bin=${1:-build/unit-tests}
py=${PYTHON:-/usr/bin/python3}

if ! "$py" -c 'import numpy' 2>/dev/null; then
	echo "skip: npy_numpy_check needs numpy (apt-get install python3-numpy)"
	exit 0
fi
if [ ! -x "$bin" ]; then
	echo "npy_numpy_check: no unit-test binary at '$bin'" >&2
	exit 2
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/tessera-npy-fixtures.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

# Fixtures: NAME.npy, NAME.txt (line 1: dtype big-endian fortran ndim extents;
# then the values in C order, floats as float.hex() so they parse exactly).
"$py" - "$dir" <<'EOF'
import sys
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(20240611)
shapes = [(), (1,), (7,), (3, 5), (2, 3, 4), (0, 3), (4, 1, 3, 2), (5, 1)]
dtypes = ['bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'float32', 'float64']

def values(dt, n):
    t = np.dtype(dt)
    if t.kind == 'b':
        return rng.integers(0, 2, n).astype(t)
    if t.kind in 'iu':
        info = np.iinfo(t)
        v = rng.integers(info.min, info.max, n, endpoint=True, dtype=t)
        v[:2] = [info.min, info.max][:n]
        return v
    v = (rng.standard_normal(n) * 1e3).astype(t)
    special = [np.nan, np.inf, -np.inf, -0.0, np.finfo(t).tiny, np.finfo(t).max]
    k = min(n, len(special))
    v[:k] = np.array(special[:k], dtype=t)
    return v

def dump(v, kind):
    if kind == 'f':
        return float(v).hex()
    return str(int(v))

names = []
def save(name, a):
    np.save(f'{out}/{name}.npy', a)
    fortran = a.flags.f_contiguous and not a.flags.c_contiguous
    big = a.dtype.byteorder == '>' or (a.dtype.byteorder == '=' and sys.byteorder == 'big')
    big = big and a.dtype.itemsize > 1
    kind = a.dtype.kind
    with open(f'{out}/{name}.txt', 'w') as f:
        f.write(f'{a.dtype.name} {int(big)} {int(fortran)} {a.ndim} '
                + ' '.join(str(d) for d in a.shape) + '\n')
        f.write(''.join(dump(v, kind) + '\n' for v in a.ravel(order='C')))
    names.append(name)

for dt in dtypes:
    for shape in shapes:
        base = values(dt, int(np.prod(shape))).reshape(shape)
        for order in 'CF':
            for bo in '<>':
                t = np.dtype(dt)
                if t.itemsize == 1 and bo == '>':
                    continue
                t = t.newbyteorder(bo) if t.itemsize > 1 else t
                a = np.array(base, dtype=t, order=order)
                dims = 'x'.join(str(d) for d in shape) or 'scalar'
                save(f'{dt}_{dims}_{order}_{"be" if bo == ">" else "le"}', a)

# Larger than the reader's 4 MiB scratch: Fortran order is reordered in pieces.
big = rng.standard_normal((700, 800))
save('float64_700x800_F_be', np.array(big, dtype='>f8', order='F'))
save('int16_300x7x500_F_le', np.array(rng.integers(-9999, 9999, (300, 7, 500)), dtype='<i2', order='F'))

with open(f'{out}/MANIFEST', 'w') as f:
    f.write('\n'.join(names) + '\n')
print(f'numpy {np.__version__} wrote {len(names)} fixtures')
EOF

TESSERA_NPY_FIXTURES=$dir "$bin" npy_numpy_fixtures

# What tessera wrote: numpy must load it, get the same values, and the bytes
# must be numpy.save's for the C-ordered little-endian array.
"$py" - "$dir" <<'EOF'
import io
import sys
import numpy as np

out = sys.argv[1]
names = open(f'{out}/MANIFEST').read().split()
bad = 0
for name in names:
    a = np.load(f'{out}/{name}.npy')
    path = f'{out}/{name}.out.npy'
    b = np.load(path)
    want = a.dtype.newbyteorder('<') if a.dtype.itemsize > 1 else a.dtype
    ref = io.BytesIO()
    np.save(ref, np.array(a, dtype=want, order='C'))
    problems = []
    if b.dtype.str != want.str:
        problems.append(f'dtype {b.dtype.str}, expected {want.str}')
    if b.shape != a.shape:
        problems.append(f'shape {b.shape}, expected {a.shape}')
    elif not np.array_equal(a, b, equal_nan=a.dtype.kind == 'f'):
        problems.append('values differ')
    if open(path, 'rb').read() != ref.getvalue():
        problems.append('bytes differ from numpy.save')
    if problems:
        bad += 1
        print(f'{name}: ' + '; '.join(problems))
print(f'numpy loaded {len(names)} files tessera wrote: {len(names) - bad} equal and '
      f'byte-identical to numpy.save, {bad} not')
sys.exit(1 if bad else 0)
EOF
