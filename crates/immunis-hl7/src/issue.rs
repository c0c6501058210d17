//! Validation issues and their HL7 coding, as reported in ERR segments.
//!
//! IG (CDC R1.5, ACK Z23): ERR-2 location (ERL `SEG^seq^field^rep^comp`),
//! ERR-3 HL7 error code (table 0357), ERR-4 severity (0516: E/W/I),
//! ERR-5 application error code (0533), ERR-8 user message.

use std::fmt;

/// HL7 table 0516 error severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// `I`: information, the message was processed as sent.
    Information,
    /// `W`: warning, processed (possibly with data ignored).
    Warning,
    /// `E`: error, the message or part of it was not processed.
    Error,
}

impl Severity {
    /// The 0516 code.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Error => "E",
            Severity::Warning => "W",
            Severity::Information => "I",
        }
    }

    /// Parse a 0516 code.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code.trim() {
            "E" => Severity::Error,
            "W" => Severity::Warning,
            "I" => Severity::Information,
            _ => return None,
        })
    }
}

/// HL7 table 0357 message error condition codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0 Message accepted.
    MessageAccepted,
    /// 100 Segment sequence error (also "required segment missing" in the IG).
    SegmentSequence,
    /// 101 Required field missing.
    RequiredFieldMissing,
    /// 102 Data type error.
    DataType,
    /// 103 Table value not found.
    TableValueNotFound,
    /// 200 Unsupported message type.
    UnsupportedMessageType,
    /// 201 Unsupported event code.
    UnsupportedEventCode,
    /// 202 Unsupported processing id.
    UnsupportedProcessingId,
    /// 203 Unsupported version id.
    UnsupportedVersionId,
    /// 204 Unknown key identifier.
    UnknownKeyIdentifier,
    /// 205 Duplicate key identifier.
    DuplicateKeyIdentifier,
    /// 206 Application record locked.
    ApplicationRecordLocked,
    /// 207 Application internal error.
    ApplicationInternalError,
}

impl ErrorCode {
    /// Numeric 0357 code.
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::MessageAccepted => 0,
            ErrorCode::SegmentSequence => 100,
            ErrorCode::RequiredFieldMissing => 101,
            ErrorCode::DataType => 102,
            ErrorCode::TableValueNotFound => 103,
            ErrorCode::UnsupportedMessageType => 200,
            ErrorCode::UnsupportedEventCode => 201,
            ErrorCode::UnsupportedProcessingId => 202,
            ErrorCode::UnsupportedVersionId => 203,
            ErrorCode::UnknownKeyIdentifier => 204,
            ErrorCode::DuplicateKeyIdentifier => 205,
            ErrorCode::ApplicationRecordLocked => 206,
            ErrorCode::ApplicationInternalError => 207,
        }
    }

    /// 0357 display text (as in the IG examples).
    pub fn text(self) -> &'static str {
        match self {
            ErrorCode::MessageAccepted => "Message accepted",
            ErrorCode::SegmentSequence => "Segment sequence error",
            ErrorCode::RequiredFieldMissing => "Required field missing",
            ErrorCode::DataType => "Data type error",
            ErrorCode::TableValueNotFound => "Table value not found",
            ErrorCode::UnsupportedMessageType => "Unsupported message type",
            ErrorCode::UnsupportedEventCode => "Unsupported event code",
            ErrorCode::UnsupportedProcessingId => "Unsupported processing id",
            ErrorCode::UnsupportedVersionId => "Unsupported version id",
            ErrorCode::UnknownKeyIdentifier => "Unknown key identifier",
            ErrorCode::DuplicateKeyIdentifier => "Duplicate key identifier",
            ErrorCode::ApplicationRecordLocked => "Application record locked",
            ErrorCode::ApplicationInternalError => "Application internal error",
        }
    }

    /// Parse a numeric 0357 code.
    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            0 => ErrorCode::MessageAccepted,
            100 => ErrorCode::SegmentSequence,
            101 => ErrorCode::RequiredFieldMissing,
            102 => ErrorCode::DataType,
            103 => ErrorCode::TableValueNotFound,
            200 => ErrorCode::UnsupportedMessageType,
            201 => ErrorCode::UnsupportedEventCode,
            202 => ErrorCode::UnsupportedProcessingId,
            203 => ErrorCode::UnsupportedVersionId,
            204 => ErrorCode::UnknownKeyIdentifier,
            205 => ErrorCode::DuplicateKeyIdentifier,
            206 => ErrorCode::ApplicationRecordLocked,
            207 => ErrorCode::ApplicationInternalError,
            _ => return None,
        })
    }

    /// Codes that make the whole message rejected (MSA AR): the message
    /// could not be processed at all (IG: unsupported version/type/processing id).
    pub fn rejects_message(self) -> bool {
        matches!(
            self,
            ErrorCode::UnsupportedMessageType
                | ErrorCode::UnsupportedEventCode
                | ErrorCode::UnsupportedProcessingId
                | ErrorCode::UnsupportedVersionId
        )
    }
}

/// Table 0533 application error codes (CDC IG; 7 and 8 from the IG examples).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppErrorCode {
    /// 1 Illogical date error.
    IllogicalDate,
    /// 2 Invalid date.
    InvalidDate,
    /// 3 Illogical value error.
    IllogicalValue,
    /// 4 Invalid value.
    InvalidValue,
    /// 5 Table value not found.
    TableValueNotFound,
    /// 6 Required observation missing.
    RequiredObservationMissing,
    /// 7 Required data missing.
    RequiredDataMissing,
    /// 8 Data was ignored.
    DataIgnored,
}

impl AppErrorCode {
    /// Numeric 0533 code.
    pub fn code(self) -> u16 {
        match self {
            AppErrorCode::IllogicalDate => 1,
            AppErrorCode::InvalidDate => 2,
            AppErrorCode::IllogicalValue => 3,
            AppErrorCode::InvalidValue => 4,
            AppErrorCode::TableValueNotFound => 5,
            AppErrorCode::RequiredObservationMissing => 6,
            AppErrorCode::RequiredDataMissing => 7,
            AppErrorCode::DataIgnored => 8,
        }
    }

    /// Display text.
    pub fn text(self) -> &'static str {
        match self {
            AppErrorCode::IllogicalDate => "Illogical date error",
            AppErrorCode::InvalidDate => "Invalid date",
            AppErrorCode::IllogicalValue => "Illogical value error",
            AppErrorCode::InvalidValue => "Invalid value",
            AppErrorCode::TableValueNotFound => "Table value not found",
            AppErrorCode::RequiredObservationMissing => "Required observation missing",
            AppErrorCode::RequiredDataMissing => "Required data missing",
            AppErrorCode::DataIgnored => "Data was ignored",
        }
    }
}

/// ERR-2 error location (ERL): segment, occurrence, field, repetition, component.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Location {
    /// Segment id (`RXA`).
    pub segment: String,
    /// Occurrence of that segment in the message, 1-based (`RXA^2` = 2nd RXA).
    pub sequence: Option<usize>,
    /// Field position.
    pub field: Option<usize>,
    /// Field repetition (1-based).
    pub repetition: Option<usize>,
    /// Component.
    pub component: Option<usize>,
}

impl Location {
    /// A whole segment occurrence.
    pub fn segment(seg: &str, sequence: usize) -> Self {
        Location {
            segment: seg.to_string(),
            sequence: Some(sequence),
            ..Location::default()
        }
    }

    /// A segment type, no occurrence (`PID` for "PID missing").
    pub fn segment_type(seg: &str) -> Self {
        Location {
            segment: seg.to_string(),
            ..Location::default()
        }
    }

    /// A field of a segment occurrence.
    pub fn field(seg: &str, sequence: usize, field: usize) -> Self {
        Location {
            segment: seg.to_string(),
            sequence: Some(sequence),
            field: Some(field),
            ..Location::default()
        }
    }

    /// Narrow to a repetition and component.
    pub fn at(mut self, repetition: usize, component: usize) -> Self {
        self.repetition = Some(repetition);
        self.component = Some(component);
        self
    }

    /// The ERL components, for ERR-2.
    pub fn components(&self) -> Vec<String> {
        let mut v = vec![self.segment.clone()];
        for p in [self.sequence, self.field, self.repetition, self.component] {
            v.push(p.map(|n| n.to_string()).unwrap_or_default());
        }
        v
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = self.components();
        while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
            parts.pop();
        }
        f.write_str(&parts.join("^"))
    }
}

/// One finding about a received message (one ERR segment in the ACK/RSP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// ERR-2.
    pub location: Location,
    /// ERR-3 (0357); `None` only for IG-style "data ignored" warnings.
    pub code: Option<ErrorCode>,
    /// ERR-4 (0516).
    pub severity: Severity,
    /// ERR-5 (0533).
    pub app_code: Option<AppErrorCode>,
    /// ERR-8: what a person at the sending site should read.
    pub message: String,
}

impl Issue {
    /// An issue with an HL7 code.
    pub fn new(
        severity: Severity,
        location: Location,
        code: ErrorCode,
        app_code: Option<AppErrorCode>,
        message: impl Into<String>,
    ) -> Self {
        Issue {
            location,
            code: Some(code),
            severity,
            app_code,
            message: message.into(),
        }
    }

    /// Error severity.
    pub fn error(
        location: Location,
        code: ErrorCode,
        app: Option<AppErrorCode>,
        msg: impl Into<String>,
    ) -> Self {
        Issue::new(Severity::Error, location, code, app, msg)
    }

    /// Warning severity.
    pub fn warning(
        location: Location,
        code: ErrorCode,
        app: Option<AppErrorCode>,
        msg: impl Into<String>,
    ) -> Self {
        Issue::new(Severity::Warning, location, code, app, msg)
    }

    /// Information severity.
    pub fn info(location: Location, msg: impl Into<String>) -> Self {
        Issue {
            location,
            code: None,
            severity: Severity::Information,
            app_code: None,
            message: msg.into(),
        }
    }

    /// True for severity E.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// MSA-1 acknowledgment code (HL7 0008, original mode as used by the IG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCode {
    /// AA: accepted (ERRs, if any, are warnings/information).
    Accept,
    /// AE: error, the message or part of it was not processed.
    Error,
    /// AR: rejected, not processed at all.
    Reject,
}

impl AckCode {
    /// The 0008 code.
    pub fn code(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }

    /// IG semantics: AR if an E issue carries a "message not processable"
    /// code (200-203), else AE if any E issue, else AA.
    pub fn from_issues(issues: &[Issue]) -> Self {
        if issues
            .iter()
            .any(|i| i.is_error() && i.code.is_some_and(ErrorCode::rejects_message))
        {
            AckCode::Reject
        } else if issues.iter().any(Issue::is_error) {
            AckCode::Error
        } else {
            AckCode::Accept
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_ack_codes() {
        assert_eq!(Location::field("PID", 1, 5).to_string(), "PID^1^5");
        assert_eq!(Location::segment_type("PID").to_string(), "PID");
        assert_eq!(
            Location::field("ORC", 1, 12).at(1, 13).to_string(),
            "ORC^1^12^1^13"
        );
        let w = Issue::warning(Location::field("PID", 1, 2), ErrorCode::DataType, None, "x");
        let e = Issue::error(
            Location::field("RXA", 1, 5),
            ErrorCode::TableValueNotFound,
            Some(AppErrorCode::TableValueNotFound),
            "x",
        );
        let r = Issue::error(
            Location::field("MSH", 1, 12),
            ErrorCode::UnsupportedVersionId,
            None,
            "x",
        );
        assert_eq!(AckCode::from_issues(&[]), AckCode::Accept);
        assert_eq!(
            AckCode::from_issues(std::slice::from_ref(&w)),
            AckCode::Accept
        );
        assert_eq!(
            AckCode::from_issues(&[w.clone(), e.clone()]),
            AckCode::Error
        );
        assert_eq!(AckCode::from_issues(&[e, r, w]), AckCode::Reject);
        for c in [
            0u16, 100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207,
        ] {
            assert_eq!(ErrorCode::from_code(c).map(ErrorCode::code), Some(c));
        }
    }
}
