"""A cosine-similarity classifier: MME's prototype head (Saito et al., ICCV 2019).

logits = W^T (f / ||f||) / T: features are L2-normalised, the bias-free
weight columns act as class prototypes and the temperature T (0.05 in the
paper) sharpens the softmax. As in the authors' code, W itself is not
normalised in the forward pass.
"""

import flax.linen as nn
import jax.numpy as jnp


class CosineHead(nn.Module):
  num_classes: int
  temperature: float = 0.05
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    del train
    x = x.astype(jnp.float32)
    x = x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    logits = nn.Dense(self.num_classes, use_bias=False, dtype=self.dtype, name="dense")(x)
    return logits / self.temperature
