"""PyTorch peer of the td3rkl-step workload (see td3_peer.py)."""
import td3_peer

if __name__ == "__main__":
    td3_peer.main(True, "td3rkl-step")
