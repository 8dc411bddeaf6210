//! Lookups that fail with a fixed message: `items[i]` formats its panic ("the len is 4 but the
//! index is 9"), and that formatting is what pulls `core::fmt` into the firmware image.

/// `&items[i]`; out of range it panics with a fixed message and the caller's location.
#[track_caller]
#[inline]
pub fn nth<T>(items: &[T], i: usize) -> &T {
    match items.get(i) {
        Some(item) => item,
        None => out_of_range(),
    }
}

/// `&mut items[i]`; out of range it panics with a fixed message and the caller's location.
#[track_caller]
#[inline]
pub fn nth_mut<T>(items: &mut [T], i: usize) -> &mut T {
    match items.get_mut(i) {
        Some(item) => item,
        None => out_of_range(),
    }
}

#[cold]
#[track_caller]
fn out_of_range() -> ! {
    panic!("index out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_range_reads_and_writes_the_item() {
        let mut a = [1, 2, 3];
        assert_eq!(*nth(&a, 2), 3);
        *nth_mut(&mut a, 0) = 7;
        assert_eq!(a, [7, 2, 3]);
    }

    #[test]
    #[should_panic(expected = "index out of range")]
    fn out_of_range_panics_with_the_fixed_message() {
        let _ = nth(&[1u8, 2], 2);
    }
}
