"""Pretext tasks: labels made from the data itself, one task per module.

* :class:`~sslib.methods.pretext.rotation.RotationPrediction`: which of four quarter turns
  was applied (Gidaris et al., 2018);
* :class:`~sslib.methods.pretext.relative_position.RelativePosition`: where a patch sits
  relative to the centre patch (Doersch et al., 2015);
* :class:`~sslib.methods.pretext.colorization.Colorization`: the colour of a greyscale image,
  as a class per pixel (Zhang et al., 2016);
* :class:`~sslib.methods.pretext.next_frame.NextFramePrediction`: the next frame of a video of
  moving digits;
* :class:`~sslib.methods.pretext.relative_rotation.RelativeRotation3D`: the rotation between
  two renders of the same 3D object.

Explained in chapter 1, *Self-supervision and pretext tasks*.
"""

from sslib.methods.pretext.colorization import Colorization
from sslib.methods.pretext.next_frame import NextFramePrediction
from sslib.methods.pretext.pairs import PairClassifier
from sslib.methods.pretext.relative_position import RelativePosition
from sslib.methods.pretext.relative_rotation import RelativeRotation3D
from sslib.methods.pretext.rotation import RotationPrediction

__all__ = [
    "Colorization",
    "NextFramePrediction",
    "PairClassifier",
    "RelativePosition",
    "RelativeRotation3D",
    "RotationPrediction",
]
