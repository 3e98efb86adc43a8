//! The world map's country shapes: Natural Earth's 1:110m countries (public domain) as npm's
//! `world-atlas` 2.0.2 publishes them in TopoJSON (ISC), `countries-110m.json` kept as it came.
//! Each country becomes an SVG path in the Equal Earth projection, computed once on first use.

use std::sync::OnceLock;

use serde::Deserialize;

use super::countries;

/// The TopoJSON file, as `world-atlas` ships it.
const TOPOLOGY: &str = include_str!("countries-110m.json");

/// The width of the map's view box; the height follows from the projection.
const WIDTH: f64 = 1000.0;

/// A country as the map draws it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shape {
    /// ISO 3166-1 alpha-2, as ingest stores countries.
    pub(crate) code: &'static str,
    pub(crate) name: String,
    /// The SVG path, in the map's view box.
    pub(crate) d: String,
}

/// Every country of the map, and the height of its view box ([`WIDTH`] wide).
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) shapes: Vec<Shape>,
    pub(crate) width: f64,
    pub(crate) height: f64,
}

/// The map, projected on first use.
pub(crate) fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| project(TOPOLOGY).unwrap_or_else(|_| World::empty()))
}

impl World {
    fn empty() -> Self {
        World {
            shapes: Vec::new(),
            width: WIDTH,
            height: WIDTH / 2.0,
        }
    }
}

#[derive(Deserialize)]
struct Topology {
    transform: Transform,
    arcs: Vec<Vec<[i64; 2]>>,
    objects: Objects,
}

#[derive(Deserialize)]
struct Transform {
    scale: [f64; 2],
    translate: [f64; 2],
}

#[derive(Deserialize)]
struct Objects {
    countries: Collection,
}

#[derive(Deserialize)]
struct Collection {
    geometries: Vec<Geometry>,
}

#[derive(Deserialize)]
struct Geometry {
    #[serde(flatten)]
    rings: Rings,
    /// ISO 3166-1 numeric; absent for the few places without one.
    id: Option<String>,
    properties: Properties,
}

#[derive(Deserialize)]
#[serde(tag = "type", content = "arcs")]
enum Rings {
    Polygon(Vec<Vec<i64>>),
    MultiPolygon(Vec<Vec<Vec<i64>>>),
}

#[derive(Deserialize)]
struct Properties {
    name: String,
}

/// The alpha-2 code of a shape: by its numeric id, else by the name of the few places Natural
/// Earth draws without one (which GeoIP databases count under these codes).
fn code_of(geometry: &Geometry) -> Option<&'static str> {
    if let Some(code) = geometry.id.as_deref().and_then(countries::by_numeric) {
        return Some(code);
    }
    match geometry.properties.name.as_str() {
        "Kosovo" => Some("XK"),
        "N. Cyprus" => Some("CY"),
        "Somaliland" => Some("SO"),
        _ => None,
    }
}

/// The shapes of `topology` (TopoJSON text), projected and scaled to the view box. Antarctica
/// is left out: nobody visits from there, and it would take a fifth of the map.
fn project(topology: &str) -> Result<World, serde_json::Error> {
    let topology: Topology = serde_json::from_str(topology)?;
    let arcs = decode_arcs(&topology);
    let mut shapes = Vec::new();
    for geometry in &topology.objects.countries.geometries {
        let Some(code) = code_of(geometry).filter(|code| *code != "AQ") else {
            continue;
        };
        let polygons: Vec<&Vec<Vec<i64>>> = match &geometry.rings {
            Rings::Polygon(rings) => vec![rings],
            Rings::MultiPolygon(polygons) => polygons.iter().collect(),
        };
        let rings = polygons
            .into_iter()
            .flatten()
            .flat_map(|ring| split_at_antimeridian(stitch(&arcs, ring)))
            .map(|ring| {
                ring.into_iter()
                    .map(|(lon, lat)| equal_earth(lon, lat))
                    .collect()
            })
            .collect();
        let name =
            countries::name(code).map_or_else(|| geometry.properties.name.clone(), str::to_owned);
        shapes.push((code, name, rings));
    }
    Ok(fit(shapes))
}

/// The arcs of a quantised topology as longitude and latitude: each position is the sum of the
/// deltas before it, scaled and moved by the transform.
fn decode_arcs(topology: &Topology) -> Vec<Vec<(f64, f64)>> {
    let Transform { scale, translate } = &topology.transform;
    topology
        .arcs
        .iter()
        .map(|arc| {
            let (mut x, mut y) = (0_i64, 0_i64);
            arc.iter()
                .map(|[dx, dy]| {
                    x += dx;
                    y += dy;
                    (
                        x as f64 * scale[0] + translate[0],
                        y as f64 * scale[1] + translate[1],
                    )
                })
                .collect()
        })
        .collect()
}

/// A ring from its arcs: a negative index `i` is arc `!i` backwards; each arc starts where
/// the one before ended, so that point is taken once.
fn stitch(arcs: &[Vec<(f64, f64)>], ring: &[i64]) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    for &index in ring {
        let (arc, reversed) = if index < 0 {
            (
                arcs.get(usize::try_from(!index).unwrap_or(usize::MAX)),
                true,
            )
        } else {
            (
                arcs.get(usize::try_from(index).unwrap_or(usize::MAX)),
                false,
            )
        };
        let Some(arc) = arc else {
            continue;
        };
        let skip = usize::from(!points.is_empty());
        if reversed {
            points.extend(arc.iter().rev().skip(skip));
        } else {
            points.extend(arc.iter().skip(skip));
        }
    }
    points
}

/// A ring that crosses the antimeridian (the Aleutians, Fiji, Chukotka) as the two rings it makes
/// on either side of it: Natural Earth draws such a ring with a jump from one side to the other,
/// which a map would show as a line across the world. Its longitudes are made continuous first,
/// then it is clipped on each side of ±180°, the part beyond moved back by 360°.
fn split_at_antimeridian(mut ring: Vec<(f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    for i in 1..ring.len() {
        let step = ring[i].0 - ring[i - 1].0;
        if step > 180.0 {
            ring[i].0 -= 360.0;
        } else if step < -180.0 {
            ring[i].0 += 360.0;
        }
    }
    let east = ring.iter().any(|&(lon, _)| lon > 180.0);
    let west = ring.iter().any(|&(lon, _)| lon < -180.0);
    let (edge, beyond) = match (east, west) {
        (true, false) => (180.0, -360.0),
        (false, true) => (-180.0, 360.0),
        // Within the map, or around a pole (which no country but Antarctica is).
        _ => return vec![ring],
    };
    let inside = clip(&ring, edge, |lon| (lon - edge) * edge.signum() <= 0.0);
    let outside = clip(&ring, edge, |lon| (lon - edge) * edge.signum() >= 0.0)
        .into_iter()
        .map(|(lon, lat)| (lon + beyond, lat))
        .collect();
    vec![inside, outside]
        .into_iter()
        .filter(|part: &Vec<(f64, f64)>| part.len() > 2)
        .collect()
}

/// The part of `ring` whose longitudes `keep`, cut along the meridian `edge`
/// (Sutherland–Hodgman against one line).
fn clip(ring: &[(f64, f64)], edge: f64, keep: impl Fn(f64) -> bool) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (i, &a) in ring.iter().enumerate() {
        let b = ring[(i + 1) % ring.len()];
        if keep(a.0) {
            out.push(a);
        }
        if keep(a.0) != keep(b.0) && a.0 != b.0 {
            let t = (edge - a.0) / (b.0 - a.0);
            out.push((edge, a.1 + t * (b.1 - a.1)));
        }
    }
    out
}

/// The Equal Earth projection (Šavrič, Patterson and Jenny, 2018) of a longitude and latitude in
/// degrees, y upwards, as d3-geo computes it.
fn equal_earth(lon: f64, lat: f64) -> (f64, f64) {
    const A1: f64 = 1.340_264;
    const A2: f64 = -0.081_106;
    const A3: f64 = 0.000_893;
    const A4: f64 = 0.003_796;
    let m = 3_f64.sqrt() / 2.0;
    let (lambda, phi) = (lon.to_radians(), lat.to_radians());
    let theta = (m * phi.sin()).asin();
    let t2 = theta * theta;
    let t6 = t2 * t2 * t2;
    let x = lambda * theta.cos() / (m * (A1 + 3.0 * A2 * t2 + t6 * (7.0 * A3 + 9.0 * A4 * t2)));
    let y = theta * (A1 + A2 * t2 + t6 * (A3 + A4 * t2));
    (x, y)
}

type Projected = (&'static str, String, Vec<Vec<(f64, f64)>>);

/// The projected shapes scaled into a view box [`WIDTH`] wide, y downwards, as SVG paths.
fn fit(shapes: Vec<Projected>) -> World {
    let points = || {
        shapes
            .iter()
            .flat_map(|(_, _, rings)| rings.iter().flatten())
    };
    let (mut left, mut right, mut bottom, mut top) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points() {
        left = left.min(x);
        right = right.max(x);
        bottom = bottom.min(y);
        top = top.max(y);
    }
    if left >= right || bottom >= top {
        return World::empty();
    }
    let scale = WIDTH / (right - left);
    let shapes = shapes
        .into_iter()
        .map(|(code, name, rings)| {
            let d = rings
                .iter()
                .map(|ring| {
                    path(
                        ring.iter()
                            .map(|&(x, y)| ((x - left) * scale, (top - y) * scale)),
                    )
                })
                .collect::<String>();
            Shape { code, name, d }
        })
        .collect();
    World {
        shapes,
        width: WIDTH,
        height: ((top - bottom) * scale).ceil(),
    }
}

/// A closed SVG path through `points`, to a tenth of a unit, without repeated points.
fn path(points: impl Iterator<Item = (f64, f64)>) -> String {
    let mut d = String::new();
    let mut last = None;
    let mut drawn = 0;
    for (x, y) in points {
        let point = ((x * 10.0).round() as i64, (y * 10.0).round() as i64);
        if last == Some(point) {
            continue;
        }
        d.push_str(match drawn {
            0 => "M",
            1 => "L",
            _ => " ",
        });
        d.push_str(&format!("{},{}", tenths(point.0), tenths(point.1)));
        last = Some(point);
        drawn += 1;
    }
    if !d.is_empty() {
        d.push('Z');
    }
    d
}

/// A count of tenths as a decimal: `123` → `12.3`, `120` → `12`.
fn tenths(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let value = value.abs();
    match value % 10 {
        0 => format!("{sign}{}", value / 10),
        rest => format!("{sign}{}.{rest}", value / 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_but_antarctica_has_a_shape_with_its_code() {
        let world = world();
        assert_eq!(world.shapes.len(), 176, "177 places, without Antarctica");
        let find = |code: &str| world.shapes.iter().filter(|s| s.code == code).count();
        for code in ["US", "DE", "BR", "AU", "JP", "ZA", "XK", "FJ", "RU"] {
            assert!(find(code) >= 1, "{code}");
        }
        assert_eq!(find("AQ"), 0);
        assert!(
            world
                .shapes
                .iter()
                .all(|s| s.d.starts_with('M') && s.d.ends_with('Z'))
        );
        assert!(
            world.height > 400.0 && world.height < 600.0,
            "{}",
            world.height
        );
        let us = world
            .shapes
            .iter()
            .find(|s| s.code == "US")
            .map(|s| s.name.as_str());
        assert_eq!(us, Some("United States"));
    }

    #[test]
    fn every_point_lies_in_the_view_box() {
        let world = world();
        for shape in &world.shapes {
            for pair in shape
                .d
                .split(['M', 'L', ' ', 'Z'])
                .filter(|p| !p.is_empty())
            {
                let (x, y) = pair.split_once(',').expect("x,y");
                let (x, y): (f64, f64) = (x.parse().expect("x"), y.parse().expect("y"));
                assert!((0.0..=world.width).contains(&x), "{} {x}", shape.code);
                assert!((0.0..=world.height).contains(&y), "{} {y}", shape.code);
            }
        }
    }

    #[test]
    fn places_lie_where_they_are_on_earth() {
        let centre = |code: &str| {
            let shape = world()
                .shapes
                .iter()
                .find(|s| s.code == code)
                .expect("a shape");
            let pairs: Vec<(f64, f64)> = shape
                .d
                .split(['M', 'L', ' ', 'Z'])
                .filter_map(|p| p.split_once(','))
                .filter_map(|(x, y)| Some((x.parse().ok()?, y.parse().ok()?)))
                .collect();
            let n = pairs.len() as f64;
            (
                pairs.iter().map(|p| p.0).sum::<f64>() / n,
                pairs.iter().map(|p| p.1).sum::<f64>() / n,
            )
        };
        let (us, br, jp) = (centre("US"), centre("BR"), centre("JP"));
        assert!(us.0 < jp.0 && br.0 < jp.0, "west is left");
        assert!(us.1 < br.1, "north is up");
    }

    #[test]
    fn a_ring_across_the_antimeridian_becomes_one_on_each_side() {
        let ring = vec![
            (178.0, 0.0),
            (-178.0, 0.0),
            (-178.0, 2.0),
            (178.0, 2.0),
            (178.0, 0.0),
        ];
        let parts = split_at_antimeridian(ring);
        assert_eq!(parts.len(), 2, "{parts:?}");
        for part in &parts {
            let lons: Vec<f64> = part.iter().map(|p| p.0).collect();
            let (min, max) = lons
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &l| (a.min(l), b.max(l)));
            assert!(max - min <= 2.0 + 1e-9, "{part:?}");
            assert!(
                (-180.0..=180.0).contains(&min) && (-180.0..=180.0).contains(&max),
                "{part:?}"
            );
        }
        let plain = vec![(10.0, 0.0), (12.0, 0.0), (12.0, 2.0), (10.0, 0.0)];
        assert_eq!(split_at_antimeridian(plain.clone()), vec![plain]);
    }

    #[test]
    fn no_shape_crosses_the_map() {
        for shape in &world().shapes {
            for ring in shape.d.split('M').filter(|r| !r.is_empty()) {
                let xs: Vec<f64> = ring
                    .split(['L', ' ', 'Z'])
                    .filter_map(|p| p.split_once(','))
                    .filter_map(|(x, _)| x.parse().ok())
                    .collect();
                let (min, max) = xs
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
                assert!(
                    max - min < 500.0,
                    "{} has a ring {min} to {max} wide",
                    shape.code
                );
            }
        }
    }

    #[test]
    fn rings_follow_reversed_arcs_and_paths_drop_repeats() {
        let arcs = vec![
            vec![(0.0, 0.0), (1.0, 0.0)],
            vec![(1.0, 0.0), (1.0, 1.0), (0.0, 0.0)],
        ];
        assert_eq!(
            stitch(&arcs, &[0, 1]),
            [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]
        );
        assert_eq!(stitch(&arcs, &[!1]), [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]);
        let d = path([(0.0, 0.0), (1.25, 0.0), (1.25, 0.0), (-2.0, 3.0)].into_iter());
        assert_eq!(d, "M0,0L1.3,0 -2,3Z");
        assert_eq!(tenths(-5), "-0.5");
    }
}
