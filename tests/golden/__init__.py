"""Golden files made by the official stylegan2-ada-pytorch code, and the helpers that read and compare them."""
