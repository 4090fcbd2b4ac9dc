# bathos environment for SLURM job scripts. Source it near the top of a job script:
#
#     source "$(dirname "$0")/_bth_env.sh"     # or an absolute path
#     exec bth run scripts/experiments/train_model.py -- --n-steps 1000
#
# It exports BTH_PROJECT_SLUG and BTH_PROJECT_ROOT, keeps BTH_CATALOG_DIR if set (and checks
# that this node can write it), and makes sure `bth` is on PATH: the one `bth init` ran from
# (below), else ~/.local/bin, $VIRTUAL_ENV or the project's .venv. `bth run` inside the job
# then records the SLURM job, array task and resources. (`exec` lets SLURM's signals reach it.)
_bth_recorded=""  # the bth that `bth init` ran from, written by it

_bth_here="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
_bth_root="$_bth_here"
while [ "$_bth_root" != "/" ] && [ ! -f "$_bth_root/.bth.toml" ]; do
    _bth_root="$(dirname "$_bth_root")"
done
if [ ! -f "$_bth_root/.bth.toml" ]; then
    echo "bathos: no .bth.toml above $_bth_here (run 'bth init' in the project)" >&2
    unset _bth_here _bth_root _bth_recorded
    return 1 2>/dev/null || exit 1
fi
export BTH_PROJECT_ROOT="$_bth_root"
BTH_PROJECT_SLUG="$(sed -n 's/^slug *= *"\(.*\)"/\1/p' "$_bth_root/.bth.toml" | head -n 1)"
export BTH_PROJECT_SLUG
if [ -n "${BTH_CATALOG_DIR:-}" ]; then
    export BTH_CATALOG_DIR
    if ! mkdir -p "$BTH_CATALOG_DIR" 2>/dev/null || [ ! -w "$BTH_CATALOG_DIR" ]; then
        echo "bathos: the catalog $BTH_CATALOG_DIR cannot be written from $(hostname) (put it, or BTH_HOME, on a filesystem the compute nodes share)" >&2
        unset _bth_here _bth_root _bth_recorded
        return 1 2>/dev/null || exit 1
    fi
fi
if ! command -v bth >/dev/null 2>&1; then
    for _bth_dir in "$(dirname "${_bth_recorded:-/nonexistent/bth}")" "$HOME/.local/bin" \
                    "${VIRTUAL_ENV:-/nonexistent}/bin" "$_bth_root/.venv/bin"; do
        if [ -x "$_bth_dir/bth" ]; then
            export PATH="$_bth_dir:$PATH"
            break
        fi
    done
fi
if ! command -v bth >/dev/null 2>&1; then
    echo "bathos: 'bth' is not on PATH on $(hostname), nor at ${_bth_recorded:-the path bth init records} (install it: uv tool install bathos, or pip install bathos; then bth init again)" >&2
    unset _bth_here _bth_root _bth_dir _bth_recorded
    return 1 2>/dev/null || exit 1
fi
unset _bth_here _bth_root _bth_dir _bth_recorded
