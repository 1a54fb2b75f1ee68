# What tools/dist_{train,test}.sh and tools/slurm_{train,test}.sh share:
# the check of their arguments, the Python they start and the launch.
# Sourced after `set -euo pipefail`; each launcher defines `usage`.

# The repository, and the Python that tools/setup_env.sh set up, unless one
# was chosen (PYTHON, or an activated virtual environment): a fresh shell
# needs no activation.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -z ${PYTHON:-} && -z ${VIRTUAL_ENV:-} && -x "$ROOT/.venv/bin/python" ]]; then
  PYTHON="$ROOT/.venv/bin/python"
fi
PYTHON=${PYTHON:-python}

# launcher_args N GPUS_AT WHAT ARGS...: with -h/--help, print the usage and
# exit 0; with fewer than N arguments, or when argument GPUS_AT (0: none)
# is no positive integer, print "error: <launcher> needs WHAT" and the
# usage on stderr and exit 2, starting nothing.
launcher_args() {
  local n=$1 gpus_at=$2 what=$3
  shift 3
  if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    usage
    exit 0
  fi
  if [[ $# -lt $n ]] || { [[ $gpus_at -gt 0 ]] && [[ ! ${!gpus_at} =~ ^[1-9][0-9]*$ ]]; }; then
    echo "error: $(basename "$0") needs $what" >&2
    usage >&2
    exit 2
  fi
}

dist_environment() {
  cat <<'EOF_ENV'
Environment variables:
  NNODES       number of machines (default 1)
  NODE_RANK    rank of this machine, 0 to NNODES-1 (default 0)
  MASTER_ADDR  address of the machine of rank 0 (default 127.0.0.1)
  PORT         port of the machine of rank 0 (default 29500)
  PYTHON       Python interpreter (default: the activated virtual
               environment's, else the repository's .venv if it exists,
               else python)
EOF_ENV
}

slurm_environment() {
  cat <<'EOF_ENV'
Environment variables:
  GPUS           processes (GPUs) in all (default 8)
  GPUS_PER_NODE  GPUs per machine (default 8)
  CPUS_PER_TASK  CPUs per process (default 5)
  SRUN_ARGS      further srun options, e.g. "--quotatype=auto"
  PYTHON         Python interpreter (default: the activated virtual
                 environment's, else the repository's .venv if it exists,
                 else python)
EOF_ENV
}

# launch_dist GPUS TOOL ARGS...: run tools/TOOL in GPUS processes on this
# machine with torch.distributed.run (--launcher pytorch).
launch_dist() {
  local gpus=$1 tool=$2
  shift 2
  PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
  "$PYTHON" -m torch.distributed.run \
      --nnodes="${NNODES:-1}" \
      --node_rank="${NODE_RANK:-0}" \
      --master_addr="${MASTER_ADDR:-127.0.0.1}" \
      --nproc_per_node="$gpus" \
      --master_port="${PORT:-29500}" \
      "$ROOT/tools/$tool" "$@"
}

# launch_slurm PARTITION JOB_NAME TOOL ARGS...: run tools/TOOL with srun,
# one process per GPU (--launcher=slurm).
launch_slurm() {
  local partition=$1 job_name=$2 tool=$3
  local gpus_per_node=${GPUS_PER_NODE:-8}
  shift 3
  set -x
  # SRUN_ARGS is split into words on purpose: it holds several options.
  # shellcheck disable=SC2086
  PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
  srun -p "$partition" \
      --job-name="$job_name" \
      --gres=gpu:"$gpus_per_node" \
      --ntasks="${GPUS:-8}" \
      --ntasks-per-node="$gpus_per_node" \
      --cpus-per-task="${CPUS_PER_TASK:-5}" \
      --kill-on-bad-exit=1 \
      ${SRUN_ARGS:-} \
      "$PYTHON" -u "$ROOT/tools/$tool" "$@"
}
