//! How many stations lie in each cell of a fine grid: the nearby search's planner. A ring
//! that cannot hold `limit` stations almost never answers a search (only when the index's
//! padding of a few metres brings in enough), so the search skips it instead of asking the
//! index: a sparse town then costs one index search instead of three. Where stations are
//! dense, the grid's guess of how many lie within a radius lets the search start narrower
//! than its first ring, which costs Redis less. The answer is the same either way, since
//! any ring gives the exact answer or none.

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

/// Cells per side of a block.
const BLOCK: i32 = 8;

/// The counts of [`BLOCK`] x [`BLOCK`] neighbouring cells, row by row: a search's few dozen
/// cells lie in one to four blocks, read from contiguous memory (a map of single cells
/// missed the cache at nearly every cell, about 5% of a nearby request). A block is 260
/// bytes and covers 65-80 km² at China's latitudes: a station in every block of China
/// would take some 40 MB.
struct Block {
    cells: [u32; (BLOCK * BLOCK) as usize],
    total: u32,
}

#[derive(Default)]
pub struct Density {
    /// Blocks holding at least one station, by (row, column) of blocks.
    blocks: HashMap<Cell, Box<Block>, foldhash::fast::RandomState>,
}

/// A grid cell: (row, column) of [`CELL_DEG`] degrees.
type Cell = (i32, i32);

/// The block holding `cell`, and the cell's place in it.
fn block_of(cell: Cell) -> (Cell, usize) {
    let (row, col) = cell;
    (
        (row.div_euclid(BLOCK), col.div_euclid(BLOCK)),
        (row.rem_euclid(BLOCK) * BLOCK + col.rem_euclid(BLOCK)) as usize,
    )
}

fn cell_of(at: Coord) -> Cell {
    (
        (at.lat / CELL_DEG).floor() as i32,
        (at.lng / CELL_DEG).floor() as i32,
    )
}

/// The south-west and north-east cells of the box reaching `reach_m` around `center` (east
/// and west measured at the box's latitude farthest from the equator, so the box holds the
/// circle), and that latitude. None across a pole or the antimeridian, or over more than
/// [`MAX_CELLS`] cells.
fn cells_around(center: Coord, reach_m: f64) -> Option<(Cell, Cell, f64)> {
    let dlat = reach_m / M_PER_DEG;
    let (south, north) = (center.lat - dlat, center.lat + dlat);
    let widest = south.abs().max(north.abs());
    if widest >= 89.0 {
        return None;
    }
    let dlng = dlat / widest.to_radians().cos();
    if center.lng - dlng < -180.0 || center.lng + dlng > 180.0 {
        return None;
    }
    let lo = cell_of(Coord {
        lat: south,
        lng: center.lng - dlng,
    });
    let hi = cell_of(Coord {
        lat: north,
        lng: center.lng + dlng,
    });
    let cells = (i64::from(hi.0) - i64::from(lo.0) + 1) * (i64::from(hi.1) - i64::from(lo.1) + 1);
    (cells <= MAX_CELLS).then_some((lo, hi, widest))
}

impl Density {
    pub fn add(&mut self, at: Coord) {
        let (block, i) = block_of(cell_of(at));
        let block = self.blocks.entry(block).or_insert_with(|| {
            Box::new(Block {
                cells: [0; (BLOCK * BLOCK) as usize],
                total: 0,
            })
        });
        block.cells[i] += 1;
        block.total += 1;
    }

    pub fn remove(&mut self, at: Coord) {
        let (key, i) = block_of(cell_of(at));
        if let Some(block) = self.blocks.get_mut(&key)
            && block.cells[i] > 0
        {
            block.cells[i] -= 1;
            block.total -= 1;
            if block.total == 0 {
                self.blocks.remove(&key);
            }
        }
    }

    /// The stations in `cell`.
    #[cfg(test)]
    fn count(&self, cell: Cell) -> u32 {
        let (block, i) = block_of(cell);
        self.blocks.get(&block).map_or(0, |b| b.cells[i])
    }

    /// Calls `f(cell, count)` for every cell from `lo` to `hi` (corners included) that
    /// holds a station, block by block; stops when `f` says so.
    fn each_cell(&self, lo: Cell, hi: Cell, mut f: impl FnMut(Cell, u32) -> bool) {
        let (first, _) = block_of(lo);
        let (last, _) = block_of(hi);
        for brow in first.0..=last.0 {
            for bcol in first.1..=last.1 {
                let Some(block) = self.blocks.get(&(brow, bcol)) else {
                    continue;
                };
                let rows = lo.0.max(brow * BLOCK)..=hi.0.min(brow * BLOCK + BLOCK - 1);
                let cols = lo.1.max(bcol * BLOCK)..=hi.1.min(bcol * BLOCK + BLOCK - 1);
                for row in rows {
                    for col in cols.clone() {
                        let n = block.cells[block_of((row, col)).1];
                        if n > 0 && !f((row, col), n) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// At least as many as the stations within `radius_m` of `center`: the stations of
    /// every cell that reaches into the circle, counted until they reach `enough` (a
    /// search only asks whether a ring can hold that many, and a city's first few cells
    /// say so). None where the grid does not say (a circle across a pole or the
    /// antimeridian, or over more than [`MAX_CELLS`] cells).
    pub fn at_most_within(&self, center: Coord, radius_m: f64, enough: usize) -> Option<usize> {
        let (lo, hi, widest) = cells_around(center, radius_m + EDGE_M)?;
        // Distances to cells on the plane, with the narrowest degree of longitude in the
        // box: never more than the great-circle distance at these sizes.
        let m_per_deg_lng = M_PER_DEG * widest.to_radians().cos();
        let reach = radius_m + EDGE_M;
        let mut n = 0;
        self.each_cell(lo, hi, |(row, col), count| {
            let lat0 = f64::from(row) * CELL_DEG;
            let dy = (center.lat - center.lat.clamp(lat0, lat0 + CELL_DEG)) * M_PER_DEG;
            let lng0 = f64::from(col) * CELL_DEG;
            let dx = (center.lng - center.lng.clamp(lng0, lng0 + CELL_DEG)) * m_per_deg_lng;
            if dx * dx + dy * dy <= reach * reach {
                n += count as usize;
            }
            n < enough
        });
        Some(n)
    }

    /// About how many stations lie within each of `radii` of `center`: each cell's count
    /// times the share of the cell that a square as large as the circle covers (stations
    /// spread evenly within a cell). The squares' shares add up to the circle's area over
    /// any even spread, so the guess is fair at any radius; it is only a planner's guess,
    /// neither bound. None where the grid does not say.
    pub fn about_within<const N: usize>(&self, center: Coord, radii: [f64; N]) -> Option<[f64; N]> {
        // Half the side of the square as large as each circle.
        let halves = radii.map(|r| r * std::f64::consts::PI.sqrt() / 2.0);
        let (lo, hi, _) = cells_around(center, halves.iter().copied().fold(0.0, f64::max))?;
        let m_per_deg_lng = M_PER_DEG * center.lat.to_radians().cos();
        let (height, width) = (CELL_DEG * M_PER_DEG, CELL_DEG * m_per_deg_lng);
        // How much of [lo, lo + len] lies within `half` of 0, as a share of `len`.
        let share =
            |lo: f64, len: f64, half: f64| ((lo + len).min(half) - lo.max(-half)).max(0.0) / len;
        // A cell's share is its row's times its column's: each worked out once per search
        // (the planner asks for a dozen radii over a few dozen cells).
        let rows: Vec<[f64; N]> = (lo.0..=hi.0)
            .map(|row| {
                let south = (f64::from(row) * CELL_DEG - center.lat) * M_PER_DEG;
                halves.map(|half| share(south, height, half))
            })
            .collect();
        let columns: Vec<[f64; N]> = (lo.1..=hi.1)
            .map(|col| {
                let west = (f64::from(col) * CELL_DEG - center.lng) * m_per_deg_lng;
                halves.map(|half| share(west, width, half))
            })
            .collect();
        let mut about = [0.0; N];
        self.each_cell(lo, hi, |(row, col), n| {
            let across = &rows[(row - lo.0) as usize];
            let down = &columns[(col - lo.1) as usize];
            let n = f64::from(n);
            for ((sum, a), d) in about.iter_mut().zip(across).zip(down) {
                *sum += n * a * d;
            }
            true
        });
        Some(about)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// `n` stations spread evenly over a 0.3 degree square near Jinhua, and their grid.
    fn spread(n: usize, rng: &mut impl Rng) -> (Density, Vec<Coord>) {
        let mut density = Density::default();
        let all: Vec<Coord> = (0..n)
            .map(|_| Coord {
                lat: 29.0 + rng.random_range(0.0..0.3),
                lng: 119.5 + rng.random_range(0.0..0.3),
            })
            .collect();
        for at in &all {
            density.add(*at);
        }
        (density, all)
    }

    #[test]
    fn never_counts_fewer_than_a_scan_and_not_many_more() {
        let mut rng = rand::rng();
        let (mut density, mut all) = spread(5_000, &mut rng);
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
            let bound = density.at_most_within(center, r, usize::MAX).unwrap();
            assert!(bound >= within, "{center:?} r={r}: {bound} < {within}");
            // Counting stops once there are enough, and says so.
            let enough = rng.random_range(1..50);
            let counted_to = density.at_most_within(center, r, enough).unwrap();
            assert_eq!(
                counted_to >= enough,
                bound >= enough,
                "{counted_to} vs {bound}"
            );
            assert!(counted_to >= bound.min(enough));
            counted += bound;
            inside += within;
        }
        // Cells that reach into the circle hold about 1.5x its stations at these radii.
        assert!(counted < inside * 3, "{counted} vs {inside}");
    }

    #[test]
    fn about_within_is_near_a_scan_where_stations_are_spread_evenly() {
        let mut rng = rand::rng();
        // About 21 stations a square kilometre.
        let (density, all) = spread(20_000, &mut rng);
        let radii = [300.0, 600.0, 1_200.0, 2_400.0];
        let (mut about, mut inside) = ([0.0; 4], [0.0; 4]);
        for _ in 0..200 {
            let center = Coord {
                lat: 29.0 + rng.random_range(0.05..0.25),
                lng: 119.5 + rng.random_range(0.05..0.25),
            };
            let guess = density.about_within(center, radii).unwrap();
            for i in 0..radii.len() {
                about[i] += guess[i];
                inside[i] += all
                    .iter()
                    .filter(|at| center.distance_m(at) <= radii[i])
                    .count() as f64;
            }
        }
        for i in 0..radii.len() {
            let ratio = about[i] / inside[i];
            assert!((0.85..1.15).contains(&ratio), "r={}: {ratio}", radii[i]);
        }
    }

    /// Counts land in the right cell on every side of the equator and the prime meridian
    /// (blocks of negative rows and columns), and a block emptied is dropped.
    #[test]
    fn counts_every_cell_across_block_edges_and_signs() {
        let mut rng = rand::rng();
        let mut density = Density::default();
        let mut all = Vec::new();
        let mut naive: HashMap<Cell, u32> = HashMap::new();
        for _ in 0..3_000 {
            let at = Coord {
                lat: rng.random_range(-0.3..0.3),
                lng: rng.random_range(-0.3..0.3),
            };
            density.add(at);
            *naive.entry(cell_of(at)).or_default() += 1;
            all.push(at);
        }
        let mut seen = 0;
        density.each_cell((-40, -40), (40, 40), |cell, n| {
            assert_eq!(naive.get(&cell), Some(&n), "{cell:?}");
            seen += n;
            true
        });
        assert_eq!(seen, 3_000);
        for (cell, n) in &naive {
            assert_eq!(density.count(*cell), *n);
        }
        for at in all {
            density.remove(at);
        }
        assert!(density.blocks.is_empty());
    }

    /// The guess is each cell's count times the share of it that each square covers, summed
    /// over the cells.
    #[test]
    fn about_within_sums_each_cells_share() {
        let mut rng = rand::rng();
        let (density, _) = spread(5_000, &mut rng);
        for _ in 0..200 {
            let center = Coord {
                lat: 29.0 + rng.random_range(-0.05..0.35),
                lng: 119.5 + rng.random_range(-0.05..0.35),
            };
            let radii = [
                rng.random_range(1.0..500.0),
                rng.random_range(500.0..2_000.0),
                rng.random_range(2_000.0..5_000.0),
            ];
            let halves = radii.map(|r| r * std::f64::consts::PI.sqrt() / 2.0);
            let m_per_deg_lng = M_PER_DEG * center.lat.to_radians().cos();
            let overlap = |lo: f64, len: f64, half: f64| {
                ((lo + len).min(half) - lo.max(-half)).max(0.0) / len
            };
            let mut expected = [0.0; 3];
            let (lo, hi, _) = cells_around(center, halves[2]).unwrap();
            for row in lo.0..=hi.0 {
                for col in lo.1..=hi.1 {
                    let n = f64::from(density.count((row, col)));
                    let south = (f64::from(row) * CELL_DEG - center.lat) * M_PER_DEG;
                    let west = (f64::from(col) * CELL_DEG - center.lng) * m_per_deg_lng;
                    for i in 0..3 {
                        expected[i] += n
                            * overlap(south, CELL_DEG * M_PER_DEG, halves[i])
                            * overlap(west, CELL_DEG * m_per_deg_lng, halves[i]);
                    }
                }
            }
            // Summed block by block, so only the rounding may differ.
            let guess = density.about_within(center, radii).unwrap();
            for (g, e) in guess.iter().zip(expected) {
                assert!((g - e).abs() <= e * 1e-12, "{guess:?} vs {expected:?}");
            }
        }
    }

    #[test]
    fn says_nothing_across_a_pole_or_the_antimeridian_or_over_too_many_cells() {
        let mut density = Density::default();
        let at = Coord {
            lat: 89.9,
            lng: 179.99,
        };
        density.add(at);
        assert_eq!(density.at_most_within(at, 10.0, usize::MAX), None);
        let east = Coord {
            lat: 10.0,
            lng: 179.99,
        };
        assert_eq!(density.at_most_within(east, 5_000.0, usize::MAX), None);
        assert_eq!(density.at_most_within(east, 100.0, usize::MAX), Some(0));
        let north = Coord {
            lat: 80.0,
            lng: 10.0,
        };
        assert_eq!(density.at_most_within(north, 40_000.0, usize::MAX), None);
        assert!(
            density
                .at_most_within(JINHUA, 39_095.0, usize::MAX)
                .is_some()
        );
    }

    const JINHUA: Coord = Coord {
        lat: 29.0991,
        lng: 119.6985,
    };
}
