"""One optimisation: the network and its weights, images, losses, shifting, the run loop, the
writer of a run's folder and its scores (torch). Its settings, layer names and the folder's file
names are contracts (nst/contracts/), shared with the study."""
