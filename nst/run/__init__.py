"""One optimisation: parameters, presets, layer names, the network and its weights,
images, losses, shifting, the run loop, a run's files and its scores."""
