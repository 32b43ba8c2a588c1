"""Training: hyperparameters and recipes, the epoch loop and its step, augmentation, history and metrics."""
