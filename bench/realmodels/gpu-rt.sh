# Sourced by the GPU-machine jobs that run our Node code (gpu-job.sh, bench/accelerators/gpu-critiprefill.sh), from the
# repository root with J set to the carried pack .dev/gpu15b (gpu-pack.sh): Node from an earlier gpu-llama.sh call on the
# same warm machine, onnxruntime-node + Vulkan loader (device-setup.sh), the production node_modules and server/dist.
[ -x /tmp/rt/bin/node ] || { echo "no /tmp/rt/bin/node: run gpu-llama.sh first (or carry .device/node.xz)"; exit 1; }
source "$J/device-setup.sh"
[ -d /tmp/rt/node_modules/lru-cache ] || tar -C /tmp/rt -xJf "$J/nm.tar.xz"
[ -d server/dist ] || tar -xJf "$J/dist.tar.xz"
[ -e node_modules ] || ln -s /tmp/rt/node_modules node_modules
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc; uptime
