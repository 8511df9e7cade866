SELECT
  `c`.`customer_id`,
  `c`.`email`,
  FALSE AS `in_holdout`
FROM `analytics`.`customers` AS c
WHERE
  (
    (
      `c`.`last_order_at` >= (
        CURRENT_TIMESTAMP() - INTERVAL '90' DAY
      )
      AND `c`.`last_order_at` <= CURRENT_TIMESTAMP()
    )
    OR `c`.`first_seen_at` < (
      CURRENT_TIMESTAMP() - INTERVAL '7' DAY
    )
    OR `c`.`customer_id` IN (
      SELECT
        `e`.`customer_id`
      FROM `analytics`.`customer_events` AS e
      WHERE
        NOT `e`.`customer_id` IS NULL
        AND `e`.`event_name` = 'product_added'
        AND `e`.`occurred_at` <= CURRENT_TIMESTAMP()
        AND `e`.`occurred_at` >= (
          CURRENT_TIMESTAMP() - INTERVAL '7' DAY
        )
        AND NOT EXISTS(
          SELECT
            1
          FROM `analytics`.`customer_orders` AS f
          WHERE
            `f`.`customer_id` = `e`.`customer_id`
            AND `f`.`ordered_at` > `e`.`occurred_at`
            AND `f`.`ordered_at` <= CURRENT_TIMESTAMP()
            AND `f`.`ordered_at` <= (
              `e`.`occurred_at` + INTERVAL '1' HOUR
            )
        )
    )
    OR `c`.`customer_id` IN (
      SELECT
        `o`.`customer_id`
      FROM `analytics`.`customer_orders` AS o
      WHERE
        NOT `o`.`customer_id` IS NULL
        AND `o`.`ordered_at` <= CURRENT_TIMESTAMP()
        AND `o`.`ordered_at` >= (
          CURRENT_TIMESTAMP() - INTERVAL '60' DAY
        )
        AND `o`.`ordered_at` < (
          CURRENT_TIMESTAMP() - INTERVAL '30' SECOND
        )
    )
  )
