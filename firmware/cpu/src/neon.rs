//! Proof that FP/NEON works on a core: a SIMD dot product and bit-pattern sum over a fixed input,
//! whose result the host compares with the scalar reference (`wire::msg::neon_reference`).

use core::arch::aarch64::{
    float32x4_t, uint64x2_t, vaddvq_f32, vaddvq_u64, vdupq_n_f32, vdupq_n_u64, vfmaq_f32,
    vld1q_f32, vpadalq_u32, vreinterpretq_u32_f32,
};
use tickscope_core::wire::msg::neon_input;

/// Runs the check with NEON instructions and returns the value to report.
pub fn check() -> u64 {
    let mut input = [0f32; 64];
    for (i, v) in input.iter_mut().enumerate() {
        *v = neon_input(i);
    }
    // NEON is part of the target and enabled on every core at boot (CPACR_EL1, CPTR_EL2).
    // SAFETY: the loads read 4 in-bounds floats from `input` at each step.
    unsafe {
        let mut acc: float32x4_t = vdupq_n_f32(0.0);
        let mut bits: uint64x2_t = vdupq_n_u64(0);
        for chunk in input.chunks_exact(4) {
            let v = vld1q_f32(chunk.as_ptr());
            acc = vfmaq_f32(acc, v, v);
            // Widening pairwise add: the bit patterns are summed in 64 bits, like the reference.
            bits = vpadalq_u32(bits, vreinterpretq_u32_f32(v));
        }
        let dot = vaddvq_f32(acc);
        let sum = vaddvq_u64(bits);
        (dot.to_bits() as u64) << 32 ^ sum
    }
}
