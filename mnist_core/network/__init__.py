"""The network as data: the spec (NetSpec), the model built from it, the shape arithmetic and the layer lessons."""
