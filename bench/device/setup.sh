# Sourced at the start of a job on the GPU machine: Node.js + onnxruntime-node + Vulkan loader
# (.device/device-setup.sh from ../shared/tools/device-pack.sh), then this project's production
# node_modules (.device/nm.tar.xz from bench/device/pack.sh), linked as ./node_modules.
# Carry `.device` and `server/dist` with the job.
source .device/device-setup.sh
[ -d /tmp/rt/node_modules/lru-cache ] || tar -C /tmp/rt -xJf .device/nm.tar.xz
[ -e node_modules ] || ln -s /tmp/rt/node_modules node_modules
[ -s .device/tasks.tar.xz ] && [ ! -d .work/tasks ] && mkdir -p .work && tar -C .work -xJf .device/tasks.tar.xz
true
