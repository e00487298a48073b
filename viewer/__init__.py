"""Pictures of a bundle: the 2-D map with video paths (PNG), posters tiled with frames by map
position, and a static HTML viewer. Reads bundles; never writes them."""
