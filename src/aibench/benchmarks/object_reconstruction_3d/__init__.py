"""DC-AI-C13 3D object reconstruction (PTN): in progress, not registered yet.

`benchmark.py` implements it on ShapeNet renderings and voxels in 3D-R2N2's layout (tiny sessions run), but the
small profile is not calibrated (docs/calibration.md): importing `ObjectReconstruction3D` here would register it.
"""
