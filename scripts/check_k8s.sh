#!/usr/bin/env bash
# Offline check of the Kubernetes sweep manifests (deploy/k8s/):
#  1. every manifest validates strictly against the Kubernetes API schemas
#     (kubernetes-validate from PyPI, which carries the schemas: no cluster, no network at run time);
#  2. the sweep Job's shard count agrees with `completions`, and the merge Job lists every shard;
#  3. the Jobs' own command lines, taken from the YAML, run here for every completion index
#     (the image's paths mapped onto the checkout), and the merged results equal one unsharded
#     run of the same grid byte for byte.
# Needs python3 with venv and the obi-scalp binary (OBI_BIN, default target/debug/obi-scalp,
# built if missing). Skips (exit 0) without python3 unless OBI_REQUIRE_TOOLS=1 (then exit 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if ! command -v python3 >/dev/null 2>&1; then
    if [ "${OBI_REQUIRE_TOOLS:-0}" = 1 ]; then
        echo "FAIL check_k8s: python3 not found (OBI_REQUIRE_TOOLS=1 forbids skipping)" >&2
        exit 1
    fi
    echo "SKIP check_k8s: python3 not found"
    exit 0
fi

venv="${OBI_K8S_VENV:-$here/target/k8s-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'kubernetes-validate==1.37.0'
fi
"$venv/bin/kubernetes-validate" --strict --quiet deploy/k8s/*.yaml
echo "ok   k8s: deploy/k8s/*.yaml valid against the Kubernetes 1.37 schemas (strict)"

bin="${OBI_BIN:-$here/target/debug/obi-scalp}"
[ -x "$bin" ] || cargo build --quiet --bin obi-scalp
data="${OBI_SHARED_DATA:-$here/../shared/data}"
if [ ! -f "$data/bybit_v5_cryptofeed_20260809.jsonl.zst" ]; then
    if [ "${OBI_REQUIRE_DATA:-0}" = 1 ]; then
        echo "FAIL check_k8s: the recorded data is not in $data (OBI_REQUIRE_DATA=1)" >&2
        exit 1
    fi
    echo "SKIP check_k8s: shard run (no recorded data in $data)"
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

OBI_BIN="$bin" OBI_DATA="$data" OBI_WORK="$work" OBI_ROOT="$here" "$venv/bin/python" - <<'PY'
import os, re, shlex, subprocess, sys, yaml

root, data, work, binary = (os.environ[k] for k in ("OBI_ROOT", "OBI_DATA", "OBI_WORK", "OBI_BIN"))

def container(path):
    with open(path) as f:
        job = yaml.safe_load(f)
    spec = job["spec"]
    return spec, spec["template"]["spec"]["containers"][0]

def fail(msg):
    print(f"FAIL check_k8s: {msg}", file=sys.stderr)
    sys.exit(1)

def local(arg):
    """The image's paths (deploy/Containerfile and the Job's mounts) mapped onto this checkout."""
    arg = arg.replace("/usr/local/bin/obi-scalp", binary)
    arg = arg.replace("/etc/obi-scalp/", os.path.join(root, "config") + "/")
    arg = arg.replace("/data/", data + "/")
    return arg.replace("/results", os.path.join(work, "results"))

spec, c = container(os.path.join(root, "deploy/k8s/sweep-job.yaml"))
if spec.get("completionMode") != "Indexed":
    fail("sweep-job.yaml: completionMode is not Indexed")
n = spec["completions"]
script = c["args"][0]
m = re.search(r'--shard "\$\{JOB_COMPLETION_INDEX\}/(\d+)"', script)
if not m:
    fail('sweep-job.yaml: no --shard "${JOB_COMPLETION_INDEX}/N" in the command')
if int(m.group(1)) != n:
    fail(f"sweep-job.yaml: --shard .../{m.group(1)} but completions: {n}")

for i in range(n):
    env = dict(os.environ, JOB_COMPLETION_INDEX=str(i), TMPDIR=work)
    r = subprocess.run([c["command"][0], c["command"][1], local(script)], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"shard {i}/{n} exited {r.returncode}: {r.stderr.strip()[-400:]}")

_, mc = container(os.path.join(root, "deploy/k8s/merge-job.yaml"))
margs = [local(a) for a in mc["command"] + mc["args"]]
shards = sorted(a for a in margs if "/shard-" in a)
want = sorted(os.path.join(work, "results", f"shard-{i}") for i in range(n))
if shards != want:
    fail(f"merge-job.yaml merges {len(shards)} shard directories, the sweep Job writes {n}")
r = subprocess.run(margs, capture_output=True, text=True)
if r.returncode != 0:
    fail(f"merge exited {r.returncode}: {r.stderr.strip()[-400:]}")

# The same grid, unsharded: the sweep command without --shard, into its own directory.
words = shlex.split(script)[2:]  # after `exec obi-scalp`
k = words.index("--shard")
del words[k:k + 2]
k = words.index("--out")
words[k + 1] = "/results/unsharded"
r = subprocess.run([local(w) for w in [binary] + words], capture_output=True, text=True,
                   env=dict(os.environ, TMPDIR=work))
if r.returncode != 0:
    fail(f"unsharded sweep exited {r.returncode}: {r.stderr.strip()[-400:]}")
for name in ("results.csv", "results.json", "best.toml"):
    a = open(os.path.join(work, "results", "merged", name), "rb").read()
    b = open(os.path.join(work, "results", "unsharded", name), "rb").read()
    if a != b:
        fail(f"merged {name} differs from the unsharded run's")
rows = open(os.path.join(work, "results", "merged", "results.csv")).read().count("\n") - 1
print(f"ok   k8s: {n} shards run from the Job's own command line, merged by the merge Job's: "
      f"results.csv ({rows} points), results.json, best.toml equal the unsharded run byte for byte")
PY
