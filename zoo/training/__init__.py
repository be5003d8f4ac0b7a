"""Training: compiling from a recipe, device policy, callbacks and the training loop."""
