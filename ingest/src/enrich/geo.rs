//! Where a client address is: country, region and city from GeoIP databases in the MaxMind DB
//! format, named by `GEOIP_DB`. Two record layouts are read: MaxMind's (GeoLite2 and DB-IP's
//! own files: `country.iso_code`, `subdivisions[0].names.en`, `city.names.en`) and the flat
//! one of the ip-location-db packages (`country_code`, `state1`, `city`), whose IPv4 and IPv6
//! data are separate files. The files are read into memory once, at start.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use plumbing::config::ConfigError;
use serde::Deserialize;

/// The variable that names the database files, comma separated.
const GEOIP_DB: &str = "GEOIP_DB";

/// The GeoIP databases, shared by every request (cloning shares them).
#[derive(Clone)]
pub struct GeoIp {
    databases: Arc<[Database]>,
}

struct Database {
    path: PathBuf,
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.databases.iter().map(|database| {
                let metadata = database.reader.metadata();
                format!(
                    "{} ({}, IPv{})",
                    database.path.display(),
                    metadata.database_type,
                    metadata.ip_version
                )
            }))
            .finish()
    }
}

/// Where an address is; each part empty when the database does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// ISO 3166-1 alpha-2, upper case (`US`).
    pub country: String,
    pub region: String,
    pub city: String,
}

/// A database file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct GeoIpError {
    pub path: String,
    pub problem: String,
}

impl GeoIp {
    /// Reads the database files at `paths`; an address is looked up in each in turn until one
    /// knows it.
    pub fn open(paths: &[PathBuf]) -> Result<Self, GeoIpError> {
        let databases = paths
            .iter()
            .map(|path| {
                let reader = maxminddb::Reader::open_readfile(path).map_err(|err| GeoIpError {
                    path: path.display().to_string(),
                    problem: err.to_string(),
                })?;
                Ok(Database {
                    path: path.clone(),
                    reader,
                })
            })
            .collect::<Result<Vec<_>, GeoIpError>>()?;
        Ok(Self {
            databases: databases.into(),
        })
    }

    /// The databases `GEOIP_DB` names (paths separated by commas); `None` when it is unset.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        let Some(paths) = plumbing::config::var_opt::<String>(GEOIP_DB)? else {
            return Ok(None);
        };
        let paths: Vec<PathBuf> = paths
            .split(',')
            .map(str::trim)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
            .collect();
        Self::open(&paths).map(Some).map_err(|err| ConfigError {
            name: GEOIP_DB.to_owned(),
            problem: err.to_string(),
        })
    }

    /// Where `ip` is, from the first database that knows it.
    pub fn locate(&self, ip: IpAddr) -> Option<Place> {
        let ip = ip.to_canonical();
        self.databases.iter().find_map(|database| {
            if ip.is_ipv6() && database.reader.metadata().ip_version == 4 {
                return None;
            }
            let found = database.reader.lookup(ip).ok()?;
            let record: Record<'_> = found.decode().ok()??;
            record.place()
        })
    }
}

/// A record of either layout; what neither has is `None`.
#[derive(Debug, Deserialize)]
struct Record<'a> {
    /// MaxMind's layout.
    #[serde(borrow, default)]
    country: Option<Country<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<Named<'a>>>,
    /// An object in MaxMind's layout, a name in the flat one.
    #[serde(borrow, default)]
    city: Option<City<'a>>,
    /// The flat layout.
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    state1: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct Country<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Debug, Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum City<'a> {
    Name(&'a str),
    Named(#[serde(borrow)] Named<'a>),
}

impl<'a> Named<'a> {
    fn english(&self) -> Option<&'a str> {
        self.names.as_ref().and_then(|names| names.en)
    }
}

impl Record<'_> {
    /// The place, when the record names at least a country.
    fn place(&self) -> Option<Place> {
        let country = self
            .country
            .as_ref()
            .and_then(|country| country.iso_code)
            .or(self.country_code)
            .filter(|code| code.len() == 2)?;
        let region = self
            .subdivisions
            .as_ref()
            .and_then(|subdivisions| subdivisions.first())
            .and_then(Named::english)
            .or(self.state1);
        let city = match &self.city {
            Some(City::Name(name)) => Some(*name),
            Some(City::Named(named)) => named.english(),
            None => None,
        };
        Some(Place {
            country: country.to_ascii_uppercase(),
            region: region.unwrap_or_default().to_owned(),
            city: city.unwrap_or_default().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_read_as_one_place() {
        let maxmind = Record {
            country: Some(Country {
                iso_code: Some("US"),
            }),
            subdivisions: Some(vec![Named {
                names: Some(Names {
                    en: Some("California"),
                }),
            }]),
            city: Some(City::Named(Named {
                names: Some(Names {
                    en: Some("Mountain View"),
                }),
            })),
            country_code: None,
            state1: None,
        };
        let flat = Record {
            country: None,
            subdivisions: None,
            city: Some(City::Name("Mountain View")),
            country_code: Some("us"),
            state1: Some("California"),
        };
        let expected = Place {
            country: "US".to_owned(),
            region: "California".to_owned(),
            city: "Mountain View".to_owned(),
        };
        assert_eq!(maxmind.place(), Some(expected.clone()));
        assert_eq!(flat.place(), Some(expected));
        let nothing = Record {
            country: None,
            subdivisions: None,
            city: None,
            country_code: Some("ZZZ"),
            state1: None,
        };
        assert_eq!(nothing.place(), None);
    }

    #[test]
    fn a_file_that_is_no_database_is_named() {
        let err = GeoIp::open(&[PathBuf::from("/nonexistent/geo.mmdb")]).expect_err("refused");
        assert_eq!(err.path, "/nonexistent/geo.mmdb");
    }
}
