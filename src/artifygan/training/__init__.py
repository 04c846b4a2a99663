"""Training: the loop (one function, two phases), checkpoints, run folders and DDP helpers."""
