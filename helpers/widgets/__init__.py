"""Interactive explorers for convolution, channels, pooling and trained networks.

Five ``anywidget.AnyWidget`` classes. Their arithmetic and drawing run in the
browser (the ``.js`` and ``.css`` files next to this one), so they keep
working in the static HTML book with no kernel, as well as in Jupyter and
Colab. With a kernel, what the reader picks is synced back to the Python
traits, so a later cell can read ``explorer.stride``.

Each trait has one writer. The settings are written by whichever side the
reader uses (Python checks them); what a view draws from them (``Y``,
``error``, ``out_shape``, ``preset``, ``probabilities``) is written by the
browser view alone and is read-only in Python: empty until a view has drawn,
and never computed here. Python's answer for the same setting is torch's,
``torch_output()``, the oracle a notebook compares the drawing with.

The JavaScript is split by job: ``ui.js`` (controls, grids, model sync),
``conv_math.js`` (sizes, windows, outputs), ``paint.js`` (colour scales,
canvases), ``bytes.js`` (base64 traits), ``net_math.js`` (a network's forward
pass), ``drawing_board.js``; one file per explorer puts them together.

- ``ConvExplorer``: one input, one kernel (or a pooling window); sliders for
  input size, kernel size, padding, stride and dilation.
- ``ChannelExplorer``: several input and output channels, as in nn.Conv2d.
- ``KernelPlayground``: preset or hand-typed 3x3 kernels on a real photo.
- ``NetworkExplorer``: a trained network run in the page on a digit the reader
  draws, every layer's feature maps and the class probabilities.
- ``TransposedExplorer``: a transposed convolution as a scatter of kernel
  copies; sliders for input size, kernel size, stride, padding and output
  padding, and where each input lands or what reaches each output.

Settings that cannot work raise ``ValueError`` when set from Python; in the
browser they show a message instead of a drawing. Nothing here prints.
"""

from helpers.widgets._base import ExplorerError, bundle
from helpers.widgets.channel_explorer import ChannelExplorer
from helpers.widgets.conv_explorer import MODES, ConvExplorer
from helpers.widgets.kernel_playground import PRESETS, KernelPlayground
from helpers.widgets.network_explorer import NetworkExplorer
from helpers.widgets.transposed_explorer import TransposedExplorer

__all__ = ["ConvExplorer", "ChannelExplorer", "KernelPlayground", "NetworkExplorer", "TransposedExplorer", "ExplorerError", "MODES", "PRESETS", "bundle"]
