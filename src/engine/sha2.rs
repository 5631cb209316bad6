//! Databricks' `sha2(expr, bits)`: the SHA-2 digest of a string or binary value as lower-case
//! hex, `bits` one of 224, 256 (or 0), 384 and 512. Beside DataFusion's own `sha256()` (which
//! returns binary), so a pasted hash-keyed MERGE (`ON t.key = sha2(concat_ws('|', ...), 256)`)
//! runs as written.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use sha2::Digest;

#[derive(Debug, PartialEq, Eq, Hash)]
struct Sha2 {
    signature: Signature,
}

/// The `sha2` function, to register in a session.
pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Sha2 {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

fn digest(bits: i64, bytes: &[u8]) -> Option<Vec<u8>> {
    Some(match bits {
        224 => sha2::Sha224::digest(bytes).to_vec(),
        0 | 256 => sha2::Sha256::digest(bytes).to_vec(),
        384 => sha2::Sha384::digest(bytes).to_vec(),
        512 => sha2::Sha512::digest(bytes).to_vec(),
        _ => return None,
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl ScalarUDFImpl for Sha2 {
    fn name(&self) -> &str {
        "sha2"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let bits = match &args.args[1] {
            ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(b)) => b,
                _ => return exec_err!("sha2(expr, bits): bits is 224, 256, 384 or 512"),
            },
            ColumnarValue::Array(_) => {
                return exec_err!("sha2(expr, bits): bits is a constant, 224, 256, 384 or 512")
            }
        };
        if digest(bits, b"").is_none() {
            return exec_err!("sha2(expr, {bits}): bits is 224, 256, 384 or 512");
        }
        let rows = args.number_rows;
        let values = args.args[0].to_array(rows)?;
        let hashed: StringArray = match values.data_type() {
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                let v = datafusion::arrow::compute::cast(&values, &DataType::Binary)?;
                v.as_binary::<i32>()
                    .iter()
                    .map(|b| b.and_then(|b| digest(bits, b)).map(|d| hex(&d)))
                    .collect()
            }
            _ => {
                let v = datafusion::arrow::compute::cast(&values, &DataType::Utf8)?;
                v.as_string::<i32>()
                    .iter()
                    .map(|s| s.and_then(|s| digest(bits, s.as_bytes())).map(|d| hex(&d)))
                    .collect()
            }
        };
        let out: ArrayRef = Arc::new(hashed);
        Ok(
            if out.len() == 1 && matches!(args.args[0], ColumnarValue::Scalar(_)) {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
            } else {
                ColumnarValue::Array(out)
            },
        )
    }
}
