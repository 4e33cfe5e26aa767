//! Day-by-day reference implementations of [`Calendar::add`] and [`Calendar::count`], working
//! from the listed days rather than the prefix sums. For tests and benchmarks only.

use chrono::NaiveDate;

use super::{Calendar, CalendarError, is_weekend};

/// Whether `d` is a working day, from the listed days.
pub fn naive_is_working_day(cal: &Calendar, d: NaiveDate) -> Result<bool, CalendarError> {
    cal.index_of(d)?;
    Ok(if is_weekend(d) {
        cal.make_up.contains(&d)
    } else {
        !cal.off.contains_key(&d)
    })
}

/// [`Calendar::add`], one day at a time: every day stepped onto must be covered (`d` itself
/// need not be).
pub fn naive_add(cal: &Calendar, d: NaiveDate, n: i64) -> Result<NaiveDate, CalendarError> {
    if n == 0 {
        return Ok(d);
    }
    if let Some(e) = cal.add_start_error(d, n) {
        return Err(e);
    }
    let mut current = d;
    let mut left = n.unsigned_abs();
    while left > 0 {
        let step = if n > 0 {
            current.succ_opt()
        } else {
            current.pred_opt()
        };
        current = match step {
            Some(next) if cal.index(next).is_some() => next,
            _ => return Err(cal.add_out_of_range(d, n)),
        };
        if naive_is_working_day(cal, current)? {
            left -= 1;
        }
    }
    Ok(current)
}

/// [`Calendar::count`], one day at a time over `(min(a, b), max(a, b)]`, every one of which
/// must be covered.
pub fn naive_count(cal: &Calendar, a: NaiveDate, b: NaiveDate) -> Result<i64, CalendarError> {
    if let Some(e) = cal.count_error(a, b) {
        return Err(e);
    }
    let (low, high, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
    let mut n = 0;
    for d in low.iter_days().skip(1).take_while(|d| *d <= high) {
        if naive_is_working_day(cal, d)? {
            n += 1;
        }
    }
    Ok(sign * n)
}
