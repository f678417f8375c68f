"""PyTorch peer of the td3bc-step workload (see td3_peer.py)."""
import td3_peer

if __name__ == "__main__":
    td3_peer.main(False, "td3bc-step")
