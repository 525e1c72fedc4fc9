//! The broker's refusals, told plainly: wrong credentials, a virtual host that does not exist or
//! that the user may not use, a permission the user lacks. None of them goes away by retrying;
//! the worker tries a few times (a broker that is still loading its definitions refuses too)
//! and then stops with `exit::UNAVAILABLE`.

use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};

/// Sessions in a row the broker may refuse before the worker stops.
pub const REFUSED_TRIES: u32 = 3;

/// What the broker refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// ACCESS_REFUSED at login: a wrong user name or password, or a user that may not log in.
    Credentials { user: String },
    /// NOT_ALLOWED at login: the virtual host does not exist, or the user has no permission on it.
    VirtualHost { user: String, vhost: String },
    /// ACCESS_REFUSED on an operation after login (declaring, consuming, publishing): the user
    /// lacks a permission. `detail` is the broker's reply (names of queues, the user, the vhost).
    Permission { detail: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Credentials { user } => write!(
                f,
                "the broker refused the credentials for user \"{user}\": check the user name and password in amqp.url (or PREAUTH__AMQP__URL), and that the user exists (rabbitmqctl list_users)"
            ),
            Refusal::VirtualHost { user, vhost } => write!(
                f,
                "virtual host \"{vhost}\" does not exist or user \"{user}\" may not use it: check the path of amqp.url (%2f is the virtual host \"/\"; rabbitmqctl list_vhosts) and the user's permissions (rabbitmqctl list_user_permissions {user})"
            ),
            Refusal::Permission { detail } => write!(
                f,
                "the broker refused an operation ({detail}): give the user configure, write and read permissions on the virtual host (rabbitmqctl set_permissions)"
            ),
        }
    }
}

/// The refusal in a lapin error, if it is one. `url` is the URL connected to (its password
/// masked or not: only the user and the virtual host are read); `None` after login.
pub(crate) fn refusal_of(url: Option<&str>, e: &lapin::Error) -> Option<Refusal> {
    let (soft_refused, hard_not_allowed, reply) = match e.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => (
            matches!(
                amqp.kind(),
                AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED)
            ),
            matches!(amqp.kind(), AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED)),
            amqp.get_message().to_string(),
        ),
        _ => {
            let text = e.to_string();
            (
                text.contains("ACCESS_REFUSED"),
                text.contains("NOT_ALLOWED") && text.contains("vhost"),
                text,
            )
        }
    };
    if !soft_refused && !hard_not_allowed {
        return None;
    }
    let Some(url) = url else {
        return soft_refused.then(|| Refusal::Permission {
            detail: reply.chars().take(300).collect(),
        });
    };
    let (user, vhost) = match url.parse::<lapin::uri::AMQPUri>() {
        Ok(uri) => (uri.authority.userinfo.username, uri.vhost),
        Err(_) => ("?".to_owned(), "?".to_owned()),
    };
    Some(if hard_not_allowed {
        Refusal::VirtualHost { user, vhost }
    } else {
        Refusal::Credentials { user }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::protocol::AMQPError;

    fn protocol(kind: AMQPErrorKind, text: &str) -> lapin::Error {
        lapin::ErrorKind::ProtocolError(AMQPError::new(kind, text.into())).into()
    }

    #[test]
    fn a_refused_login_names_the_user_and_never_the_password() {
        let e = protocol(
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED),
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN.",
        );
        let refusal =
            refusal_of(Some("amqp://nobody:***@127.0.0.1:5672/%2f"), &e).expect("a refusal");
        assert_eq!(
            refusal,
            Refusal::Credentials {
                user: "nobody".into()
            }
        );
        let text = refusal.to_string();
        assert!(
            text.contains("refused the credentials for user \"nobody\""),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_virtual_host_is_told_as_such() {
        let e = protocol(
            AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED),
            "NOT_ALLOWED - vhost /no-such not found",
        );
        let refusal =
            refusal_of(Some("amqp://guest:***@h:5672/%2Fno-such"), &e).expect("a refusal");
        assert_eq!(
            refusal,
            Refusal::VirtualHost {
                user: "guest".into(),
                vhost: "/no-such".into()
            }
        );
        assert!(refusal
            .to_string()
            .contains("virtual host \"/no-such\" does not exist or user \"guest\" may not use it"));
    }

    #[test]
    fn the_exit_code_table_says_how_many_tries_a_refusal_gets() {
        let (_, meaning) = crate::exit::TABLE
            .iter()
            .find(|(code, _)| *code == crate::exit::UNAVAILABLE)
            .expect("UNAVAILABLE is in the table");
        assert!(
            meaning.contains(&format!("after {REFUSED_TRIES} tries")),
            "{meaning}"
        );
    }

    #[test]
    fn other_broker_errors_are_not_refusals() {
        let e = protocol(
            AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND),
            "NOT_FOUND - no queue 'x'",
        );
        assert_eq!(refusal_of(Some("amqp://h"), &e), None);
        let io: lapin::Error = std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into();
        assert_eq!(refusal_of(Some("amqp://h"), &io), None);
    }
}
