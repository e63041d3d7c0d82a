//! The network log: every outbound request the app made, as `automix_types::NetworkRequest`.

use rusqlite::params;

use crate::error::StoreError;
use crate::history::History;
use automix_types::{NetworkPurpose, NetworkRequest};

impl History {
    /// Appends requests to the network log, in one transaction.
    pub fn record_network(&self, requests: &[NetworkRequest]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        {
            let mut insert = transaction.prepare(
                "INSERT INTO network_requests (at_ms, purpose, host, what, bytes_sent, bytes_received, status, error, duration_ms, cost, currency)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for request in requests {
                insert.execute(params![
                    request.at_ms,
                    request.purpose.as_str(),
                    request.host,
                    request.what,
                    request.bytes_sent.map(|bytes| bytes as i64),
                    request.bytes_received as i64,
                    request.status,
                    request.error,
                    request.duration_ms as i64,
                    request.cost,
                    request.currency,
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// The network log, oldest first; the newest `limit` requests when there are more.
    pub fn network_log(&self, limit: usize) -> Result<Vec<NetworkRequest>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT at_ms, purpose, host, what, bytes_sent, bytes_received, status, error, duration_ms, cost, currency FROM
               (SELECT * FROM network_requests ORDER BY id DESC LIMIT ?1) ORDER BY id",
        )?;
        let rows = statement.query_map([limit as i64], |row| {
            let purpose: String = row.get(1)?;
            Ok(NetworkRequest {
                at_ms: row.get(0)?,
                purpose: NetworkPurpose::parse(&purpose).unwrap_or(NetworkPurpose::Escalation),
                host: row.get(2)?,
                what: row.get(3)?,
                bytes_sent: row.get::<_, Option<i64>>(4)?.map(|bytes| bytes as u64),
                bytes_received: row.get::<_, i64>(5)? as u64,
                status: row.get(6)?,
                error: row.get(7)?,
                duration_ms: row.get::<_, i64>(8)? as u64,
                cost: row.get(9)?,
                currency: row.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(at_ms: i64, purpose: NetworkPurpose, bytes_sent: Option<u64>) -> NetworkRequest {
        NetworkRequest {
            at_ms,
            purpose,
            host: "api.example.com".into(),
            what: "POST /v1/chat/completions".into(),
            bytes_sent,
            bytes_received: 812,
            status: Some(200),
            error: None,
            duration_ms: 340,
            cost: 0.00042,
            currency: Some("USD".into()),
        }
    }

    #[test]
    fn the_log_keeps_every_field_in_order_and_returns_the_newest_when_limited() {
        let history = History::open_in_memory().unwrap();
        let written = [
            request(1, NetworkPurpose::Escalation, Some(1200)),
            request(2, NetworkPurpose::ModelDownload, None),
            NetworkRequest { error: Some("HTTP 500".into()), status: Some(500), cost: 0.0, ..request(3, NetworkPurpose::Escalation, Some(1200)) },
        ];
        history.record_network(&written).unwrap();
        assert_eq!(history.network_log(10).unwrap(), written);
        assert_eq!(history.network_log(2).unwrap(), written[1..]);
    }
}
