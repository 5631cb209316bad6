//! lakeshell's SQL dialect: DataFusion's default (`GenericDialect`) plus Delta's table
//! versioning (`t VERSION AS OF 3`, `t TIMESTAMP AS OF '2024-01-01'`), as Databricks writes it.
//!
//! Every method `GenericDialect` overrides is delegated to it, and [`Dialect::dialect`] reports
//! `GenericDialect`'s type, so the parser's `dialect_of!(... GenericDialect)` checks still hold.
//! The list is generated from sqlparser's `generic.rs`; re-check it when upgrading sqlparser.

use std::any::TypeId;

use datafusion::sql::sqlparser::dialect::{Dialect, GenericDialect};

/// GenericDialect with table versioning.
#[derive(Debug, Default, Clone, Copy)]
pub struct LakeDialect;

const G: GenericDialect = GenericDialect {};

impl Dialect for LakeDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<GenericDialect>()
    }

    fn supports_table_versioning(&self) -> bool {
        true
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        G.is_delimited_identifier_start(ch)
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        G.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        G.is_identifier_part(ch)
    }

    fn supports_unicode_string_literal(&self) -> bool {
        G.supports_unicode_string_literal()
    }

    fn supports_partition_by_after_order_by(&self) -> bool {
        G.supports_partition_by_after_order_by()
    }

    fn supports_array_join_syntax(&self) -> bool {
        G.supports_array_join_syntax()
    }

    fn supports_group_by_expr(&self) -> bool {
        G.supports_group_by_expr()
    }

    fn supports_group_by_with_modifier(&self) -> bool {
        G.supports_group_by_with_modifier()
    }

    fn supports_left_associative_joins_without_parens(&self) -> bool {
        G.supports_left_associative_joins_without_parens()
    }

    fn supports_connect_by(&self) -> bool {
        G.supports_connect_by()
    }

    fn supports_match_recognize(&self) -> bool {
        G.supports_match_recognize()
    }

    fn supports_pipe_operator(&self) -> bool {
        G.supports_pipe_operator()
    }

    fn supports_start_transaction_modifier(&self) -> bool {
        G.supports_start_transaction_modifier()
    }

    fn supports_window_function_null_treatment_arg(&self) -> bool {
        G.supports_window_function_null_treatment_arg()
    }

    fn supports_dictionary_syntax(&self) -> bool {
        G.supports_dictionary_syntax()
    }

    fn supports_window_clause_named_window_reference(&self) -> bool {
        G.supports_window_clause_named_window_reference()
    }

    fn supports_parenthesized_set_variables(&self) -> bool {
        G.supports_parenthesized_set_variables()
    }

    fn supports_select_wildcard_except(&self) -> bool {
        G.supports_select_wildcard_except()
    }

    fn support_map_literal_syntax(&self) -> bool {
        G.support_map_literal_syntax()
    }

    fn allow_extract_custom(&self) -> bool {
        G.allow_extract_custom()
    }

    fn allow_extract_single_quotes(&self) -> bool {
        G.allow_extract_single_quotes()
    }

    fn supports_extract_comma_syntax(&self) -> bool {
        G.supports_extract_comma_syntax()
    }

    fn supports_create_view_comment_syntax(&self) -> bool {
        G.supports_create_view_comment_syntax()
    }

    fn supports_parens_around_table_factor(&self) -> bool {
        G.supports_parens_around_table_factor()
    }

    fn supports_values_as_table_factor(&self) -> bool {
        G.supports_values_as_table_factor()
    }

    fn supports_create_index_with_clause(&self) -> bool {
        G.supports_create_index_with_clause()
    }

    fn supports_explain_with_utility_options(&self) -> bool {
        G.supports_explain_with_utility_options()
    }

    fn supports_limit_comma(&self) -> bool {
        G.supports_limit_comma()
    }

    fn supports_update_order_by(&self) -> bool {
        G.supports_update_order_by()
    }

    fn supports_from_first_select(&self) -> bool {
        G.supports_from_first_select()
    }

    fn supports_projection_trailing_commas(&self) -> bool {
        G.supports_projection_trailing_commas()
    }

    fn supports_asc_desc_in_column_definition(&self) -> bool {
        G.supports_asc_desc_in_column_definition()
    }

    fn supports_try_convert(&self) -> bool {
        G.supports_try_convert()
    }

    fn supports_bitwise_shift_operators(&self) -> bool {
        G.supports_bitwise_shift_operators()
    }

    fn supports_comment_on(&self) -> bool {
        G.supports_comment_on()
    }

    fn supports_load_extension(&self) -> bool {
        G.supports_load_extension()
    }

    fn supports_named_fn_args_with_assignment_operator(&self) -> bool {
        G.supports_named_fn_args_with_assignment_operator()
    }

    fn supports_struct_literal(&self) -> bool {
        G.supports_struct_literal()
    }

    fn supports_empty_projections(&self) -> bool {
        G.supports_empty_projections()
    }

    fn supports_nested_comments(&self) -> bool {
        G.supports_nested_comments()
    }

    fn supports_multiline_comment_hints(&self) -> bool {
        G.supports_multiline_comment_hints()
    }

    fn supports_user_host_grantee(&self) -> bool {
        G.supports_user_host_grantee()
    }

    fn supports_string_escape_constant(&self) -> bool {
        G.supports_string_escape_constant()
    }

    fn supports_array_typedef_with_brackets(&self) -> bool {
        G.supports_array_typedef_with_brackets()
    }

    fn supports_match_against(&self) -> bool {
        G.supports_match_against()
    }

    fn supports_set_names(&self) -> bool {
        G.supports_set_names()
    }

    fn supports_comma_separated_set_assignments(&self) -> bool {
        G.supports_comma_separated_set_assignments()
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        G.supports_filter_during_aggregation()
    }

    fn supports_select_wildcard_exclude(&self) -> bool {
        G.supports_select_wildcard_exclude()
    }

    fn supports_data_type_signed_suffix(&self) -> bool {
        G.supports_data_type_signed_suffix()
    }

    fn supports_interval_options(&self) -> bool {
        G.supports_interval_options()
    }

    fn supports_quote_delimited_string(&self) -> bool {
        G.supports_quote_delimited_string()
    }

    fn supports_select_wildcard_replace(&self) -> bool {
        G.supports_select_wildcard_replace()
    }

    fn supports_select_wildcard_ilike(&self) -> bool {
        G.supports_select_wildcard_ilike()
    }

    fn supports_select_wildcard_rename(&self) -> bool {
        G.supports_select_wildcard_rename()
    }

    fn supports_optimize_table(&self) -> bool {
        G.supports_optimize_table()
    }

    fn supports_install(&self) -> bool {
        G.supports_install()
    }

    fn supports_detach(&self) -> bool {
        G.supports_detach()
    }

    fn supports_prewhere(&self) -> bool {
        G.supports_prewhere()
    }

    fn supports_with_fill(&self) -> bool {
        G.supports_with_fill()
    }

    fn supports_limit_by(&self) -> bool {
        G.supports_limit_by()
    }

    fn supports_interpolate(&self) -> bool {
        G.supports_interpolate()
    }

    fn supports_settings(&self) -> bool {
        G.supports_settings()
    }

    fn supports_select_format(&self) -> bool {
        G.supports_select_format()
    }

    fn supports_comment_optimizer_hint(&self) -> bool {
        G.supports_comment_optimizer_hint()
    }

    fn supports_constraint_keyword_without_name(&self) -> bool {
        G.supports_constraint_keyword_without_name()
    }

    fn supports_key_column_option(&self) -> bool {
        G.supports_key_column_option()
    }

    fn supports_comma_separated_trim(&self) -> bool {
        G.supports_comma_separated_trim()
    }

    fn supports_cte_without_as(&self) -> bool {
        G.supports_cte_without_as()
    }

    fn supports_select_item_multi_column_alias(&self) -> bool {
        G.supports_select_item_multi_column_alias()
    }

    fn supports_xml_expressions(&self) -> bool {
        G.supports_xml_expressions()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::parser::Parser;

    #[test]
    fn parses_versions_and_generic_syntax() {
        for sql in [
            "SELECT * FROM t VERSION AS OF 3",
            "SELECT * FROM t TIMESTAMP AS OF '2024-01-01' JOIN u VERSION AS OF 1 ON t.id = u.id",
            "SELECT * EXCLUDE (a) FROM t",
        ] {
            let parsed = Parser::parse_sql(&LakeDialect, sql).unwrap();
            let printed = parsed[0].to_string();
            let again = Parser::parse_sql(&LakeDialect, &printed)
                .unwrap_or_else(|e| panic!("{printed}: {e}"));
            assert_eq!(parsed, again, "{printed}");
        }
        // sqlparser 0.62 prints an alias before the version (`t AS a VERSION AS OF 1`), which
        // it cannot parse back; lakeshell rewrites versions away before anything is printed.
        let sql = "SELECT * FROM t VERSION AS OF 1 AS a";
        assert!(Parser::parse_sql(&LakeDialect, sql).is_ok());
    }
}
