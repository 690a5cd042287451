//! How many stations lie in each cell of a fine grid: the nearby search's planner. A ring
//! that cannot hold `limit` stations almost never answers a search (only when the index's
//! padding of a few metres brings in enough), so the search skips it instead of asking the
//! index. A sparse town then costs one
//! index search instead of three; the answer is the same, since any ring gives the exact
//! answer or none.

use std::collections::HashMap;

use crate::domain::{Coord, M_PER_DEG};

/// About 1.1 km north-south: a 2.4 km ring touches some thirty cells, whose stations are
/// at most about twice those inside the ring.
const CELL_DEG: f64 = 0.01;

/// How far outside a ring a station may be and still count (rounding at cell edges).
const EDGE_M: f64 = 5.0;

/// The most cells one bound reads (a 39 km ring in China reads about 6,000); wider boxes,
/// near the poles, are not bounded.
const MAX_CELLS: i64 = 8_192;

#[derive(Default)]
pub struct Density {
    cells: HashMap<(i32, i32), u32, foldhash::fast::RandomState>,
}

fn cell_of(at: Coord) -> (i32, i32) {
    (
        (at.lat / CELL_DEG).floor() as i32,
        (at.lng / CELL_DEG).floor() as i32,
    )
}

impl Density {
    pub fn add(&mut self, at: Coord) {
        *self.cells.entry(cell_of(at)).or_default() += 1;
    }

    pub fn remove(&mut self, at: Coord) {
        let cell = cell_of(at);
        if let Some(n) = self.cells.get_mut(&cell) {
            *n -= 1;
            if *n == 0 {
                self.cells.remove(&cell);
            }
        }
    }

    /// At least as many as the stations within `radius_m` of `center`: the stations of
    /// every cell that reaches into the circle. None where the grid does not say (a circle
    /// across a pole or the antimeridian, or over more than [`MAX_CELLS`] cells).
    pub fn at_most_within(&self, center: Coord, radius_m: f64) -> Option<usize> {
        let dlat = (radius_m + EDGE_M) / M_PER_DEG;
        let (south, north) = (center.lat - dlat, center.lat + dlat);
        let widest = south.abs().max(north.abs());
        if widest >= 89.0 {
            return None;
        }
        let dlng = dlat / widest.to_radians().cos();
        if center.lng - dlng < -180.0 || center.lng + dlng > 180.0 {
            return None;
        }
        let (lo, hi) = (
            cell_of(Coord {
                lat: south,
                lng: center.lng - dlng,
            }),
            cell_of(Coord {
                lat: north,
                lng: center.lng + dlng,
            }),
        );
        let cells =
            (i64::from(hi.0) - i64::from(lo.0) + 1) * (i64::from(hi.1) - i64::from(lo.1) + 1);
        if cells > MAX_CELLS {
            return None;
        }
        // Distances to cells on the plane, with the narrowest degree of longitude in the
        // box: never more than the great-circle distance at these sizes.
        let m_per_deg_lng = M_PER_DEG * widest.to_radians().cos();
        let reach = radius_m + EDGE_M;
        let mut n = 0;
        for row in lo.0..=hi.0 {
            let lat0 = f64::from(row) * CELL_DEG;
            let dy = (center.lat - center.lat.clamp(lat0, lat0 + CELL_DEG)) * M_PER_DEG;
            for col in lo.1..=hi.1 {
                let lng0 = f64::from(col) * CELL_DEG;
                let dx = (center.lng - center.lng.clamp(lng0, lng0 + CELL_DEG)) * m_per_deg_lng;
                if dx * dx + dy * dy <= reach * reach {
                    n += self.cells.get(&(row, col)).map_or(0, |c| *c as usize);
                }
            }
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn never_counts_fewer_than_a_scan_and_not_many_more() {
        let mut rng = rand::rng();
        let mut density = Density::default();
        let mut all: Vec<Coord> = (0..5_000)
            .map(|_| Coord {
                lat: 29.0 + rng.random_range(0.0..0.3),
                lng: 119.5 + rng.random_range(0.0..0.3),
            })
            .collect();
        for at in &all {
            density.add(*at);
        }
        for at in all.drain(..1_000) {
            density.remove(at);
        }
        let (mut counted, mut inside) = (0, 0);
        for _ in 0..500 {
            let center = Coord {
                lat: 29.0 + rng.random_range(0.0..0.3),
                lng: 119.5 + rng.random_range(0.0..0.3),
            };
            let r = rng.random_range(1.0..10_000.0);
            let within = all.iter().filter(|at| center.distance_m(at) <= r).count();
            let bound = density.at_most_within(center, r).unwrap();
            assert!(bound >= within, "{center:?} r={r}: {bound} < {within}");
            counted += bound;
            inside += within;
        }
        // Cells that reach into the circle hold about 1.5x its stations at these radii.
        assert!(counted < inside * 3, "{counted} vs {inside}");
    }

    #[test]
    fn says_nothing_across_a_pole_or_the_antimeridian_or_over_too_many_cells() {
        let mut density = Density::default();
        let at = Coord {
            lat: 89.9,
            lng: 179.99,
        };
        density.add(at);
        assert_eq!(density.at_most_within(at, 10.0), None);
        let east = Coord {
            lat: 10.0,
            lng: 179.99,
        };
        assert_eq!(density.at_most_within(east, 5_000.0), None);
        assert_eq!(density.at_most_within(east, 100.0), Some(0));
        let north = Coord {
            lat: 80.0,
            lng: 10.0,
        };
        assert_eq!(density.at_most_within(north, 40_000.0), None);
        assert!(density.at_most_within(JINHUA, 39_095.0).is_some());
    }

    const JINHUA: Coord = Coord {
        lat: 29.0991,
        lng: 119.6985,
    };
}
