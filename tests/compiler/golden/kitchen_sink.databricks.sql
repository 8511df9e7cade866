SELECT
  `c`.`customer_id`,
  `c`.`email`,
  `c`.`first_name`,
  `c`.`total_revenue`,
  SUBSTRING(MD5(CAST(`c`.`customer_id` AS STRING) || ':' || 'kitchen_sink'), 1, 8) < '19999999' AS `in_holdout`
FROM `analytics`.`customers` AS c
WHERE
  (
    `c`.`customer_id` IN (
      SELECT
        `e`.`customer_id`
      FROM `analytics`.`customer_events` AS e
      WHERE
        NOT `e`.`customer_id` IS NULL
        AND `e`.`event_name` = 'page_viewed'
        AND `e`.`page_path` = '/pricing'
        AND GET_JSON_OBJECT(`e`.`properties`, '$.plan') = 'pro'
        AND TRY_CAST(GET_JSON_OBJECT(`e`.`properties`, '$.price') AS DOUBLE) >= 10
        AND `e`.`occurred_at` <= CAST('2026-10-31 00:00:00' AS TIMESTAMP)
        AND `e`.`occurred_at` >= CAST('2026-10-01 00:00:00' AS TIMESTAMP)
      GROUP BY
        `e`.`customer_id`
      HAVING
        COUNT(*) >= 3
    )
    AND NOT `c`.`customer_id` IN (
      SELECT
        `o`.`customer_id`
      FROM `analytics`.`customer_orders` AS o
      WHERE
        NOT `o`.`customer_id` IS NULL
        AND `o`.`status` = 'completed'
        AND `o`.`ordered_at` <= CAST('2026-10-31 00:00:00' AS TIMESTAMP)
    )
    AND (
      `c`.`country` IN ('US', 'it\'s')
      OR LOCATE('%_', `c`.`email`) > 0
      OR (
        `c`.`last_seen_at` >= CAST('2026-10-30 12:00:00' AS TIMESTAMP)
        AND `c`.`last_seen_at` <= CAST('2026-10-31 00:00:00' AS TIMESTAMP)
      )
      OR `c`.`first_seen_at` < CAST('2026-10-17 00:00:00' AS TIMESTAMP)
      OR `c`.`customer_id` IN (
        SELECT
          `r`.`customer_id`
        FROM (
          SELECT
            `p`.`customer_id`,
            ROW_NUMBER() OVER (ORDER BY `p`.`total_revenue` DESC, `p`.`customer_id` ASC NULLS LAST) AS `cdpkit_rank`,
            COUNT(*) OVER () AS `cdpkit_total`
          FROM `analytics`.`customers` AS p
          WHERE
            NOT `p`.`total_revenue` IS NULL AND `p`.`order_count` > 0
        ) AS r
        WHERE
          (
            `r`.`cdpkit_rank` - 1
          ) * 10000 < `r`.`cdpkit_total` * 1250
      )
      OR `c`.`customer_id` IN (
        SELECT
          `r`.`customer_id`
        FROM (
          SELECT
            `p`.`customer_id`,
            ROW_NUMBER() OVER (ORDER BY `p`.`total_revenue` ASC NULLS LAST, `p`.`customer_id` ASC NULLS LAST) AS `cdpkit_rank`,
            COUNT(*) OVER () AS `cdpkit_total`
          FROM `analytics`.`customers` AS p
          WHERE
            NOT `p`.`total_revenue` IS NULL
        ) AS r
        WHERE
          `r`.`cdpkit_rank` <= 100
      )
      OR `c`.`customer_id` IN (
        SELECT
          `e`.`customer_id`
        FROM `analytics`.`customer_events` AS e
        WHERE
          NOT `e`.`customer_id` IS NULL
          AND `e`.`event_name` = 'product_added'
          AND `e`.`occurred_at` <= CAST('2026-10-31 00:00:00' AS TIMESTAMP)
          AND NOT EXISTS(
            SELECT
              1
            FROM `analytics`.`customer_orders` AS f
            WHERE
              `f`.`customer_id` = `e`.`customer_id`
              AND `f`.`ordered_at` > `e`.`occurred_at`
              AND `f`.`ordered_at` <= CAST('2026-10-31 00:00:00' AS TIMESTAMP)
              AND `f`.`status` = 'completed'
              AND `f`.`ordered_at` <= (
                `e`.`occurred_at` + INTERVAL '1' DAY
              )
          )
      )
      OR `c`.`customer_id` IN (
        SELECT
          `e`.`customer_id`
        FROM `analytics`.`customer_events` AS e
        WHERE
          NOT `e`.`customer_id` IS NULL
          AND `e`.`occurred_at` <= CAST('2026-10-31 00:00:00' AS TIMESTAMP)
          AND `e`.`occurred_at` >= CAST('2026-08-02 00:00:00' AS TIMESTAMP)
          AND `e`.`occurred_at` < CAST('2026-10-01 00:00:00' AS TIMESTAMP)
          AND EXISTS(
            SELECT
              1
            FROM `analytics`.`customer_events` AS f
            WHERE
              `f`.`customer_id` = `e`.`customer_id`
              AND `f`.`occurred_at` > `e`.`occurred_at`
              AND `f`.`occurred_at` <= CAST('2026-10-31 00:00:00' AS TIMESTAMP)
              AND `f`.`event_name` = 'order_completed'
              AND `f`.`occurred_at` <= (
                `e`.`occurred_at` + INTERVAL '30' MINUTE
              )
          )
      )
      OR `c`.`customer_id` IN (
        SELECT
          `o`.`customer_id`
        FROM `analytics`.`customer_orders` AS o
        WHERE
          NOT `o`.`customer_id` IS NULL
          AND `o`.`ordered_at` <= CAST('2026-10-31 00:00:00' AS TIMESTAMP)
          AND `o`.`ordered_at` >= CAST('2026-01-01 00:00:00' AS TIMESTAMP)
          AND `o`.`ordered_at` < CAST('2026-06-01 12:00:00' AS TIMESTAMP)
        GROUP BY
          `o`.`customer_id`
        HAVING
          SUM(`o`.`total_amount`) >= 500
      )
      OR NOT `c`.`customer_id` IN (
        SELECT
          `o`.`customer_id`
        FROM `analytics`.`customer_orders` AS o
        WHERE
          NOT `o`.`customer_id` IS NULL
          AND `o`.`ordered_at` <= CAST('2026-10-31 00:00:00' AS TIMESTAMP)
        GROUP BY
          `o`.`customer_id`
        HAVING
          NOT (
            COUNT(*) < 2
          )
      )
      OR (
        LEFT(`c`.`lifecycle_stage`, 4) = 'cust' AND `c`.`consent_advertising` = TRUE
      )
    )
  )
  AND NOT COALESCE(`c`.`is_anonymous` = TRUE, FALSE)
  AND `c`.`consent_marketing` = TRUE
