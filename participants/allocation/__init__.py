"""The allocation module: the only code that reads the allocation.

It owns the allocation list, the randomize action, dose preparation and drug accountability (a
preparation reveals the product) and emergency unblinding. Blinding is two keys: a user sees the
allocation only when listed in settings.UNBLINDED_USERNAMES *and* a member of the pharmacist
group. The principal investigator who requested an executed emergency unblinding sees that one
participant's sequence. Everyone else gets neutral values: randomization number, kit code,
syringe code, total volume and pump rate, never the sequence or the product.
"""

# The package, by subject: access.py (who may see what of the allocation), lists.py, randomize.py,
# kits.py, pharmacy.py, ledger.py, unblinding.py, sequence_key.py. It is still the only code that
# reads the allocation (tests/participants/test_allocation_module_is_alone.py); callers use the
# names below.
from participants.allocation.access import (  # noqa: F401
    PRODUCT_KETAMINE,
    PRODUCT_PLACEBO,
    AllocationRow,
    allocation_table,
    can_see_allocation,
    is_emergency_unblinded,
    period_day_patterns,
    period_day_patterns_many,
    product_for,
    randomized_count,
    require_unblinded,
    sequence_for,
)
from participants.allocation.guesses import (  # noqa: F401, E402
    guess_tables,
    pooled_correct_guesses,
)
from participants.allocation.kits import (  # noqa: F401
    KitEventRow,
    kit_events,
    kit_mark_unavailable,
    kit_replace,
)
from participants.allocation.ledger import (  # noqa: F401
    REGISTER_CSV_HEADER,
    LotBalance,
    LotRegister,
    RegisterRow,
    accountability,
    accountability_balance,
    receipt_list,
    receipt_record,
    register,
    register_csv,
    stock_count_record,
    vials_return_record,
    vials_waste_record,
    waste_awaiting_witness,
    waste_witness,
)
from participants.allocation.lists import (  # noqa: F401
    SlotCount,
    allocation_list_active,
    allocation_list_counts,
    allocation_list_csv,
    allocation_list_generate,
    allocation_list_parameters_csv,
    allocation_list_upload,
    allocation_list_verify,
)
from participants.allocation.pharmacy import (  # noqa: F401
    CONFIRM,
    REJECT,
    SYRINGE_ALPHABET,
    BlindedPreparation,
    DoseDue,
    blinded_preparation,
    dose_prepare,
    doses_due,
    label_context,
    preparation_check,
    preparation_get,
    preparation_plan,
    preparations_awaiting_check,
    preparations_for,
    preparations_rejected,
    scan_message,
    syringe_scan_record,
    syringe_scans,
)
from participants.allocation.randomize import (  # noqa: F401
    BlindedAllocation,
    SlotKit,
    blinded_allocation,
    blinded_allocations,
    participant_randomize,
)
from participants.allocation.sequence_key import (  # noqa: F401
    coded_sequences,
    released_sequences,
    sequence_key_letters,
    sequence_key_release,
    sequence_key_released,
)
from participants.allocation.unblinding import (  # noqa: F401
    pending_unblinding_count,
    unblinding_execute,
    unblinding_request,
    unblinding_requests_for,
)
from participants.allocation.visibility import (  # noqa: F401, E402
    is_strictly_blinded,
    may_see,
)
