//! Linux under QEMU (being written).
