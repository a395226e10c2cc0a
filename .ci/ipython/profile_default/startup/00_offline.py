# Runs in every IPython kernel started with IPYTHONDIR=.ci/ipython (CI's notebook runs):
# with SSLIB_OFFLINE=1 the kernel can reach no host but itself (see sslib/offline.py).
from sslib.offline import forbid_network_if_requested

forbid_network_if_requested()
del forbid_network_if_requested
